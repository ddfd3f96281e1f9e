//! `Cache-Control` (RFC 9111 §5.2) as a shared cache reads it, and `CDN-Cache-Control`
//! (RFC 9213), which targets caches like this one and, when valid, takes its place.
//!
//! Parsed here rather than with `http-cache-semantics`, whose parser splits on every comma
//! (quoted arguments included), keeps single-quoted and negative values as if valid, and knows
//! neither the targeted field nor `stale-if-error`: reading these fields right is the cache's
//! subject itself.

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// `CDN-Cache-Control` (RFC 9213).
pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// The largest delta-seconds kept: RFC 9111 §1.2.2 asks for 2^31 in place of anything larger.
const MAX_DELTA: u64 = 1 << 31;

/// A directive's delta-seconds argument.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Seconds {
    #[default]
    Absent,
    Valid(u64),
    /// Present with an argument that is not delta-seconds (`-1`, `'60'`, `1.5`, none), or
    /// present twice with different values: RFC 9111 §4.2.1 has such freshness treated as
    /// stale.
    Invalid,
}

impl Seconds {
    /// The value, when valid.
    pub fn value(self) -> Option<u64> {
        match self {
            Self::Valid(seconds) => Some(seconds),
            Self::Absent | Self::Invalid => None,
        }
    }

    pub fn is_present(self) -> bool {
        self != Self::Absent
    }

    fn parse(argument: Option<&str>) -> Self {
        match argument {
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Self::Valid(
                    digits
                        .parse::<u64>()
                        .map_or(MAX_DELTA, |n| n.min(MAX_DELTA)),
                )
            }
            _ => Self::Invalid,
        }
    }

    /// A second occurrence: the same value stands, another makes it invalid.
    fn again(self, next: Self) -> Self {
        match self {
            Self::Absent => next,
            same if same == next => same,
            _ => Self::Invalid,
        }
    }
}

/// The directives a shared cache acts on, from a request or a response.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Directives {
    pub no_store: bool,
    /// With or without field names: the qualified form is honoured as the unqualified one,
    /// the stricter reading RFC 9111 §5.2.2.4 allows.
    pub no_cache: bool,
    pub private: bool,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub max_age: Seconds,
    pub s_maxage: Seconds,
    /// RFC 5861: how long past its freshness a copy may answer when the origin fails.
    pub stale_if_error: Seconds,
    /// RFC 5861: how long past its freshness a copy may answer while it is refreshed.
    pub stale_while_revalidate: Seconds,
    /// Request only (§5.2.1.4).
    pub min_fresh: Seconds,
    /// Request only (§5.2.1.2): how stale a copy the client takes; see `max_stale_any`.
    pub max_stale: Seconds,
    /// Request only: `max-stale` without an argument, a copy stale by any time.
    pub max_stale_any: bool,
    /// Request only (§5.2.1.7): a stored copy or 504, never the backend.
    pub only_if_cached: bool,
}

impl Directives {
    /// The directives of every `Cache-Control` field line in `headers`, as one list.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut directives = Self::default();
        for value in headers.get_all(header::CACHE_CONTROL) {
            for (name, argument) in elements(value.as_bytes()) {
                directives.apply(&name, argument.as_deref());
            }
        }
        directives
    }

    /// The response's directives for this cache: `CDN-Cache-Control` when it is a valid
    /// Structured Fields Dictionary (RFC 9213 §2.1), else `Cache-Control`; and whether the
    /// targeted field was used (then `Expires` is ignored too).
    pub fn of_response(headers: &HeaderMap) -> (Self, bool) {
        match targeted(headers) {
            Some(directives) => (directives, true),
            None => (Self::of(headers), false),
        }
    }

    fn apply(&mut self, name: &str, argument: Option<&str>) {
        let seconds = || Seconds::parse(argument);
        match name {
            "no-store" => self.no_store = true,
            "no-cache" => self.no_cache = true,
            "private" => self.private = true,
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "max-age" => self.max_age = self.max_age.again(seconds()),
            "s-maxage" => self.s_maxage = self.s_maxage.again(seconds()),
            "stale-if-error" => self.stale_if_error = self.stale_if_error.again(seconds()),
            "stale-while-revalidate" => {
                self.stale_while_revalidate = self.stale_while_revalidate.again(seconds());
            }
            "min-fresh" => self.min_fresh = self.min_fresh.again(seconds()),
            "max-stale" if argument.is_none() => self.max_stale_any = true,
            "max-stale" => self.max_stale = self.max_stale.again(seconds()),
            "only-if-cached" => self.only_if_cached = true,
            _ => {}
        }
    }

    /// Whether a stale copy must never answer without the origin's word: `must-revalidate`,
    /// `proxy-revalidate`, or `s-maxage` (which implies it, §5.2.2.10), or `no-cache`.
    pub fn forbids_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_present() || self.no_cache
    }
}

/// The elements of one `Cache-Control` line: lower-cased names, unquoted arguments. A comma
/// inside a quoted string does not end an element (RFC 9110 §5.6.1, §5.6.4).
fn elements(line: &[u8]) -> Vec<(String, Option<String>)> {
    let mut elements = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let name_end = rest
            .iter()
            .position(|&b| b == b',' || b == b'=')
            .unwrap_or(rest.len());
        let name = String::from_utf8_lossy(&rest[..name_end])
            .trim()
            .to_ascii_lowercase();
        rest = &rest[name_end..];
        let mut argument = None;
        if rest.first() == Some(&b'=') {
            rest = &rest[1..];
            let start = rest
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            rest = &rest[start..];
            if rest.first() == Some(&b'"') {
                let (value, after) = quoted(&rest[1..]);
                argument = Some(value);
                rest = after;
            }
            let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
            if argument.is_none() {
                argument = Some(String::from_utf8_lossy(&rest[..end]).trim().to_owned());
            }
            rest = &rest[end..];
        }
        if !name.is_empty() {
            elements.push((name, argument));
        }
        rest = rest.strip_prefix(b",").unwrap_or(rest);
    }
    elements
}

/// A quoted string's content (after its opening quote), unescaped, and what follows it.
fn quoted(text: &[u8]) -> (String, &[u8]) {
    let mut value = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\\' if i + 1 < text.len() => {
                value.push(text[i + 1]);
                i += 2;
            }
            b'"' => return (String::from_utf8_lossy(&value).into_owned(), &text[i + 1..]),
            b => {
                value.push(b);
                i += 1;
            }
        }
    }
    (
        String::from_utf8_lossy(&value).into_owned(),
        &text[text.len()..],
    )
}

/// `CDN-Cache-Control` read as a Structured Fields Dictionary; `None` when absent or invalid.
fn targeted(headers: &HeaderMap) -> Option<Directives> {
    let lines: Vec<&HeaderValue> = headers.get_all(CDN_CACHE_CONTROL).iter().collect();
    if lines.is_empty() {
        return None;
    }
    let joined = lines
        .iter()
        .map(|line| line.to_str().ok())
        .collect::<Option<Vec<_>>>()?
        .join(", ");
    let dictionary = sfv::Parser::parse_dictionary(joined.as_bytes()).ok()?;
    let mut directives = Directives::default();
    for (key, member) in &dictionary {
        let argument = match member {
            sfv::ListEntry::Item(item) => match &item.bare_item {
                sfv::BareItem::Boolean(true) => None,
                sfv::BareItem::Integer(n) if *n >= 0 => Some(n.to_string()),
                _ => Some(String::new()),
            },
            sfv::ListEntry::InnerList(_) => Some(String::new()),
        };
        directives.apply(key.as_str(), argument.as_deref());
    }
    Some(directives)
}
