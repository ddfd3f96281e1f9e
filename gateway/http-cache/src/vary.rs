//! Variants (RFC 9111 §4.1): a response with `Vary` is stored with the values its request
//! had for the fields it nominates, and answers only requests with the same values. The
//! variants of one key live together in one stored value, so that a lookup stays one read.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, header};

use crate::entry::Entry;

/// Most variants kept per key; the oldest goes first.
const MOST_VARIANTS: usize = 8;

/// The fields `Vary` nominates, lower-cased and sorted; `None` for `Vary: *`, which no
/// request matches.
pub fn nominated(response: &HeaderMap) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for value in response.get_all(header::VARY) {
        for name in value.to_str().ok()?.split(',') {
            let name = name.trim().to_ascii_lowercase();
            if name == "*" {
                return None;
            }
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names.sort();
    Some(names)
}

/// A request's values for `names`: its field lines joined and their list members trimmed
/// (the normalisation §4.1 allows), absent fields as empty.
pub fn values_of(request: &HeaderMap, names: &[String]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|name| {
            let joined = request
                .get_all(name.as_str())
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .map(str::trim)
                .filter(|member| !member.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            (name.clone(), joined)
        })
        .collect()
}

/// Whether `entry` may answer `request`: the request has the values the stored one had for
/// every field the entry's `Vary` nominates.
pub fn matches(entry: &Entry, request: &HeaderMap) -> bool {
    match nominated(&entry.headers) {
        None => false,
        Some(names) if names.is_empty() => true,
        Some(names) => values_of(request, &names) == entry.variant,
    }
}

/// The variants stored together after `entry` is added to `others`: it replaces the one
/// with its values, and the oldest go past [`MOST_VARIANTS`].
pub fn with(others: &[Entry], entry: &Entry) -> Vec<Entry> {
    let mut kept: Vec<Entry> = others
        .iter()
        .filter(|other| other.freshness.scope == entry.freshness.scope)
        // A variant's values name their fields too.
        .filter(|other| other.variant != entry.variant)
        .cloned()
        .collect();
    kept.sort_by_key(|other| std::cmp::Reverse(other.stored_at));
    kept.truncate(MOST_VARIANTS - 1);
    kept.insert(0, entry.clone());
    kept
}

/// The bytes of a key's variants: their count, then each entry with its length.
pub fn encode(entries: &[Entry]) -> Bytes {
    let encoded: Vec<Bytes> = entries.iter().map(Entry::encode).collect();
    let mut bytes = BytesMut::with_capacity(4 + encoded.iter().map(|e| 4 + e.len()).sum::<usize>());
    bytes.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
    for entry in &encoded {
        bytes.put_u32(u32::try_from(entry.len()).unwrap_or(u32::MAX));
        bytes.put_slice(entry);
    }
    bytes.freeze()
}

/// A key's variants, or `None` when the bytes are not such (another version wrote them).
pub fn decode(bytes: &Bytes) -> Option<Vec<Entry>> {
    let count = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    let mut at = 4;
    let mut entries = Vec::new();
    for _ in 0..count {
        let length =
            usize::try_from(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?)).ok()?;
        at += 4;
        entries.push(Entry::decode(bytes.slice(
            at..at.checked_add(length).filter(|end| *end <= bytes.len())?,
        ))?);
        at += length;
    }
    Some(entries)
}

/// The stored answer for `request` among `entries`: a fresh variant that matches it, else
/// the youngest stale one.
pub fn select<'a>(entries: &'a [Entry], request: &HeaderMap, now: u64) -> Option<&'a Entry> {
    let matching = || entries.iter().filter(|entry| matches(entry, request));
    matching()
        .find(|entry| entry.is_fresh(now))
        .or_else(|| matching().min_by_key(|entry| entry.age(now)))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn nominated_fields_are_read_case_blind_and_star_matches_nothing() {
        let mut response = HeaderMap::new();
        response.append(
            header::VARY,
            HeaderValue::from_static("Accept-Language, accept"),
        );
        response.append(header::VARY, HeaderValue::from_static("ACCEPT"));
        assert_eq!(
            nominated(&response),
            Some(vec!["accept".into(), "accept-language".into()])
        );
        response.insert(header::VARY, HeaderValue::from_static("*"));
        assert_eq!(nominated(&response), None);
    }

    #[test]
    fn request_values_are_normalised_across_lines_and_spaces() {
        let mut request = HeaderMap::new();
        request.append(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr ,en"));
        request.append(header::ACCEPT_LANGUAGE, HeaderValue::from_static("de"));
        let names = ["accept-language".to_owned(), "x-absent".to_owned()];
        assert_eq!(
            values_of(&request, &names),
            [
                ("accept-language".to_owned(), "fr, en, de".to_owned()),
                ("x-absent".to_owned(), String::new())
            ]
        );
    }
}
