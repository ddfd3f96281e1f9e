//! Every service's OpenAPI document, fuzzed against the service itself by Schemathesis: no
//! answer may be a 5xx, and every status an operation answers must be in its document.

use std::{path::PathBuf, process::Command};

use crate::platform::{Options, Platform};

/// Test cases per operation. Each run draws new ones; a failure prints the seed and a
/// `curl` line that reproduces it.
const EXAMPLES: &str = "40";

/// Schemathesis, as `scripts/provision` installs it (`SCHEMATHESIS` overrides).
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("SCHEMATHESIS").map_or_else(
        || {
            let data =
                std::env::var("FD_DATA_DIR").unwrap_or_else(|_| "/var/tmp/food-delivery".into());
            PathBuf::from(data).join("fuzz-venv/bin/st")
        },
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "Schemathesis is not at {}: run scripts/provision",
        path.display()
    );
    path
}

/// Fuzzes the document at `document` against `base`, as `token`'s holder (and, where the
/// fuzzer drops it, as nobody); `extra` goes to `st run`. Returns its report on failure.
fn fuzz(document: &str, base: &str, token: &str, extra: &[&str]) -> Result<(), String> {
    // Its caches and example database go to the build's scratch space, not the sources.
    let output = Command::new(schemathesis())
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .args(["run", document, "--url", base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,status_code_conformance"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", EXAMPLES, "--request-timeout", "10"])
        // A live stream (Server-Sent Events) is an answer that does not end: its statuses
        // are tested by the service's own tests instead.
        .args(["--exclude-path-regex", "/stream$|^/dashboard/events$"])
        .args([
            "--continue-on-failure",
            "--no-color",
            "--output-truncate",
            "false",
        ])
        .args(extra)
        .output()
        .expect("Schemathesis runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[tokio::test]
async fn every_service_answers_only_what_its_openapi_document_lists_and_never_a_5xx() {
    let platform = Platform::start(Options::default()).await;
    let admin = platform.admin().await;
    let mut failures = Vec::new();
    for backend in &platform.backends {
        let prefix = crate::stack::prefix_of(backend.name);
        let document = format!("{}{prefix}/openapi.json", backend.url());
        // The blocking run happens beside the runtime, which keeps serving nothing here but
        // must not be starved of its thread.
        let (base, token) = (backend.url(), admin.clone());
        let result = tokio::task::spawn_blocking(move || fuzz(&document, &base, &token, &[])).await;
        if let Err(report) = result.expect("the fuzzer's thread") {
            failures.push(format!("{}:\n{report}", backend.name));
        }
    }
    // The gateway's own operations; the forwarded prefixes are the backends' documents.
    let gateway = platform.gateway.url();
    let document = format!("{gateway}/openapi.json");
    let result = tokio::task::spawn_blocking(move || {
        fuzz(&document, &gateway, &admin, &["--exclude-tag", "routing"])
    })
    .await;
    if let Err(report) = result.expect("the fuzzer's thread") {
        failures.push(format!("gateway:\n{report}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every `in: path` parameter of `document`'s operations that its path does not name.
fn stray_path_parameters(document: &serde_json::Value) -> Vec<String> {
    let mut strays = Vec::new();
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in paths {
        for (method, operation) in item.as_object().into_iter().flatten() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap_or_default();
                if parameter["in"] == "path" && !path.contains(&format!("{{{name}}}")) {
                    strays.push(format!("{method} {path}: {name}"));
                }
            }
        }
    }
    strays
}

#[tokio::test]
async fn every_parameter_a_document_places_in_the_path_is_named_by_that_path() {
    let platform = Platform::start(Options::default()).await;
    let client = reqwest::Client::new();
    let mut documents = vec![format!("{}/openapi.json", platform.gateway.url())];
    for backend in &platform.backends {
        let prefix = crate::stack::prefix_of(backend.name);
        documents.push(platform.url(&format!("{prefix}/openapi.json")));
    }
    let mut strays = Vec::new();
    for url in documents {
        let document: serde_json::Value = client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the document is served")
            .json()
            .await
            .expect("the document is JSON");
        strays.extend(
            stray_path_parameters(&document)
                .into_iter()
                .map(|stray| format!("{url}: {stray}")),
        );
    }
    assert_eq!(
        strays,
        Vec::<String>::new(),
        "query parameters said to be in the path"
    );
}
