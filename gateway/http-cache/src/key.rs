//! Cache keys: the path and its query with the parameters sorted (so `?a=1&b=2` and
//! `?b=2&a=1` share an entry), scoped to everyone or to one user; and the tag sets that let
//! a write find the entries it makes stale.

use uuid::Uuid;

use crate::{rules::Scope, store::Store};

/// The two places a GET's answer may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// The request's path, without the query.
    pub path: String,
    /// The entry shared by everyone.
    pub public: String,
    /// The caller's own entry, when the caller is a user.
    pub user: Option<String>,
}

impl CacheKey {
    /// The keys of `GET path?query` for `user`.
    pub fn new(store: &impl Store, path: &str, query: Option<&str>, user: Option<Uuid>) -> Self {
        let resource = match query.map(normalise_query).filter(|q| !q.is_empty()) {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        Self {
            path: path.to_owned(),
            public: store.key(&["cache", "public", "GET", &resource]),
            user: user.map(|user| store.key(&["cache", &format!("user-{user}"), "GET", &resource])),
        }
    }

    /// The key an entry of `scope` goes to (`None`: a user entry for an anonymous caller).
    pub fn for_scope(&self, scope: Scope) -> Option<&str> {
        match scope {
            Scope::Public => Some(&self.public),
            Scope::User => self.user.as_deref(),
        }
    }

    /// The key single-flight coalesces on: callers that could share an answer.
    pub fn flight(&self) -> &str {
        self.user.as_deref().unwrap_or(&self.public)
    }
}

/// The query's parameters, decoded, sorted and encoded again.
pub fn normalise_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    pairs.sort();
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The proper ancestors of `path`: `/a/b/c` -> `/a/b`, `/a`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_end_matches('/');
    trimmed
        .match_indices('/')
        .map(move |(at, _)| &trimmed[..at])
        .filter(|ancestor| !ancestor.is_empty())
        .rev()
}

/// The set of entries stored at exactly `path`.
pub(crate) fn exact_tag(store: &impl Store, path: &str) -> String {
    store.key(&["tag", "exact", path.trim_end_matches('/')])
}

/// The set of entries stored at `path` or below it.
pub(crate) fn tree_tag(store: &impl Store, path: &str) -> String {
    store.key(&["tag", "tree", path.trim_end_matches('/')])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_order_does_not_make_a_new_key() {
        assert_eq!(normalise_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(
            normalise_query("q=thai%20food"),
            normalise_query("q=thai+food")
        );
    }

    #[test]
    fn ancestors_run_from_the_nearest_to_the_root() {
        let found: Vec<&str> = ancestors("/restaurants/1/menu").collect();
        assert_eq!(found, ["/restaurants/1", "/restaurants"]);
        assert_eq!(ancestors("/restaurants").count(), 0);
    }
}
