//! What a pinned image is: one version, never a moving tag.

/// Why `image` is not pinned to one version, if it is not: a tag (or digest) with a version
/// (`1.2`, `v1.2.3`) or a date (`20260421`), no `latest` and no bare major (`rust-1`).
pub fn unpinned(image: &str) -> Option<String> {
    if image.contains("@sha256:") {
        return None;
    }
    let name_end = image.rfind('/').map_or(0, |slash| slash + 1);
    let Some((_, tag)) = image[name_end..].split_once(':') else {
        return Some(format!("{image} has no tag"));
    };
    let parts: Vec<&str> = tag.split('-').collect();
    let version = |part: &str| {
        let part = part.strip_prefix('v').unwrap_or(part);
        part.contains('.')
            && part
                .split('.')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let date = |part: &str| part.len() == 8 && part.bytes().all(|b| b.is_ascii_digit());
    if parts.iter().any(|part| part.contains("latest")) {
        return Some(format!("{image} floats with `latest`"));
    }
    if let Some(major) = parts
        .iter()
        .find(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && !date(part))
    {
        return Some(format!("{image} floats within major {major}"));
    }
    if !parts.iter().any(|part| version(part) || date(part)) {
        return Some(format!("{image} names no version"));
    }
    None
}

#[test]
fn pinning_is_told_apart_from_floating() {
    for pinned in [
        "lukemathwalker/cargo-chef:0.1.77-rust-1.95.0-bookworm",
        "debian:bookworm-20260421-slim",
        "postgres:16.9-alpine3.22",
        "prom/prometheus:v2.55.1",
        "localhost:5000/app@sha256:0123",
    ] {
        assert_eq!(unpinned(pinned), None, "{pinned}");
    }
    for floating in [
        "lukemathwalker/cargo-chef:latest-rust-1",
        "lukemathwalker/cargo-chef:0.1.77-rust-1-bookworm",
        "debian:bookworm-slim",
        "postgres:16-alpine",
        "mongo:7",
        "redis",
        "localhost:5000/app",
    ] {
        assert!(unpinned(floating).is_some(), "{floating}");
    }
}
