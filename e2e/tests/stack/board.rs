//! The Grafana board of the compose stack, read as Grafana reads it: its panels and their
//! PromQL queries, and the metrics each query selects.

use serde_json::Value;

use crate::compose::root;

/// The Grafana board, as compose provisions it.
pub fn board() -> Value {
    let path = root().join("deploy/grafana/dashboards/food-delivery.json");
    let text = std::fs::read_to_string(&path).expect("the board exists");
    serde_json::from_str(&text).expect("the board is JSON")
}

/// Every query of the board, with its panel's title.
pub fn queries(board: &Value) -> Vec<(String, String)> {
    board["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |target| {
                    Some((title.clone(), target["expr"].as_str()?.to_owned()))
                })
        })
        .collect()
}

/// The metric names a PromQL expression selects: its identifiers that are not functions,
/// aggregations, keywords, label names (inside `{}` or a `by (...)` list) or durations.
pub fn metric_names(expr: &str) -> Vec<String> {
    const WORDS: &[&str] = &[
        "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk",
        "quantile", "and", "or", "unless", "bool", "offset",
    ];
    const LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let (mut names, mut i, mut in_braces) = (Vec::new(), 0, false);
    let skip_past = |from: usize, end: char| {
        (from + 1..chars.len())
            .find(|&j| chars[j] == end)
            .map_or(chars.len(), |j| j + 1)
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i = skip_past(i, '"');
        } else if c == '[' {
            i = skip_past(i, ']');
        } else if c == '{' || c == '}' {
            in_braces = c == '{';
            i += 1;
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if LISTS.contains(&word.as_str()) {
                i = skip_past(i, ')');
            } else if !in_braces && next != Some(&'(') && !WORDS.contains(&word.as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_told_from_functions_labels_and_keywords() {
    assert_eq!(
        metric_names(
            r#"(sum by (job) (rate(http_requests_total{status=~"5.."}[1m])) or vector(0)) / on (job) up"#
        ),
        ["http_requests_total", "up"]
    );
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, sum by (job, le) (rate(saga_duration_seconds_bucket[5m])))"
        ),
        ["saga_duration_seconds_bucket"]
    );
}
