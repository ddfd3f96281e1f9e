//! Route patterns as the configuration writes them (`POST /orders/*/cancel`, `GET /restaurants/**`)
//! and tables of them, first match wins. Used by the public-route list, the permission policy,
//! the rate-limit rules and the cache's per-route lifetimes.

use std::{fmt, str::FromStr};

use http::Method;

/// `METHOD /path` where a `*` segment matches any one segment and a trailing `/**` matches
/// the rest of the path (nothing included). `*` as the method matches every method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    method: Option<Method>,
    segments: Vec<Segment>,
    rest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Any,
}

impl RoutePattern {
    /// Whether a request for `method` on `path` matches.
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        for segment in &self.segments {
            match (segment, parts.next()) {
                (Segment::Exact(expected), Some(part)) if expected == part => {}
                (Segment::Any, Some(_)) => {}
                _ => return false,
            }
        }
        self.rest || parts.next().is_none()
    }
}

impl FromStr for RoutePattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (method, path) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("`{text}` is not `METHOD /path`"))?;
        let method = match method {
            "*" => None,
            name => Some(
                Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("`{name}` is not an HTTP method"))?,
            ),
        };
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(format!("the path `{path}` does not start with `/`"));
        }
        let (path, rest) = match path.strip_suffix("/**") {
            Some(stem) => (stem, true),
            None => (path, false),
        };
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "*" => Ok(Segment::Any),
                "**" => Err("`**` may only end a path".to_owned()),
                exact => Ok(Segment::Exact(exact.to_owned())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            method,
            segments,
            rest,
        })
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = self.method.as_ref().map_or("*", Method::as_str);
        write!(f, "{method} ")?;
        for segment in &self.segments {
            match segment {
                Segment::Exact(s) => write!(f, "/{s}")?,
                Segment::Any => write!(f, "/*")?,
            }
        }
        if self.rest {
            write!(f, "/**")?;
        } else if self.segments.is_empty() {
            write!(f, "/")?;
        }
        Ok(())
    }
}

/// Patterns with a value each; the first pattern that matches decides.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTable<T>(pub Vec<(RoutePattern, T)>);

impl<T> RouteTable<T> {
    /// The value of the first pattern matching `method` and `path`.
    pub fn find(&self, method: &Method, path: &str) -> Option<&T> {
        self.position(method, path).map(|(_, value)| value)
    }

    /// The index and value of the first pattern matching `method` and `path`.
    pub fn position(&self, method: &Method, path: &str) -> Option<(usize, &T)> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, (pattern, _))| pattern.matches(method, path))
            .map(|(index, (_, value))| (index, value))
    }
}

/// Parses `PATTERN=VALUE, PATTERN=VALUE, ...` with `value` parsing each value.
pub fn parse_table<T>(
    text: &str,
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<RouteTable<T>, String> {
    split_list(text)
        .map(|entry| {
            let (pattern, raw) = entry
                .rsplit_once('=')
                .ok_or_else(|| format!("`{entry}` is not `METHOD /path=value`"))?;
            let parsed = value(raw.trim()).map_err(|err| format!("`{entry}`: {err}"))?;
            Ok((pattern.parse()?, parsed))
        })
        .collect::<Result<_, String>>()
        .map(RouteTable)
}

/// Parses a comma-separated list of patterns.
pub fn parse_patterns(text: &str) -> Result<Vec<RoutePattern>, String> {
    split_list(text).map(str::parse).collect()
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> RoutePattern {
        text.parse().expect("a pattern")
    }

    #[test]
    fn exact_single_and_trailing_wildcards_match_as_documented() {
        let cancel = pattern("POST /orders/*/cancel");
        assert!(cancel.matches(&Method::POST, "/orders/123/cancel"));
        assert!(!cancel.matches(&Method::GET, "/orders/123/cancel"));
        assert!(!cancel.matches(&Method::POST, "/orders/123"));
        assert!(!cancel.matches(&Method::POST, "/orders/123/cancel/x"));

        let browse = pattern("GET /restaurants/**");
        assert!(browse.matches(&Method::GET, "/restaurants"));
        assert!(browse.matches(&Method::GET, "/restaurants/1/menu"));
        assert!(!browse.matches(&Method::GET, "/restaurantsx"));

        let any = pattern("* /admin/**");
        assert!(any.matches(&Method::DELETE, "/admin/cache"));
    }

    #[test]
    fn tables_take_the_first_match_and_bad_entries_name_themselves() {
        let table = parse_table("POST /auth/login=5, * /**=100", |v| {
            v.parse::<u32>().map_err(|e| e.to_string())
        })
        .expect("a table");
        assert_eq!(table.find(&Method::POST, "/auth/login"), Some(&5));
        assert_eq!(table.find(&Method::GET, "/orders"), Some(&100));

        let err = parse_table("POST /auth/login", |_| Ok(())).expect_err("no value");
        assert!(err.contains("POST /auth/login"), "{err}");
        let err = parse_patterns("FE(TCH /x").expect_err("bad method");
        assert!(err.contains("FE(TCH"), "{err}");
        assert!(parse_patterns("GET /a/**/b").is_err());
    }

    #[test]
    fn patterns_print_as_they_are_written() {
        for text in ["POST /orders/*/cancel", "GET /restaurants/**", "* /"] {
            assert_eq!(pattern(text).to_string(), text);
        }
    }
}
