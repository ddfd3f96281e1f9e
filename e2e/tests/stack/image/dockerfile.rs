//! The `Dockerfile`: pinned bases on one Debian release, locked builds, no curl at run time,
//! every shipped binary built and copied.

use std::{collections::BTreeSet, process::Command};

use super::pinning::unpinned;
use crate::compose::root;

/// Debian's releases by codename, newest last.
const DEBIAN_RELEASES: &[&str] = &["buster", "bullseye", "bookworm", "trixie", "forky"];

/// Workspace packages whose binaries are tools for this repository (benchmarks, the saga's
/// long checker), not parts of the platform: the image leaves them out.
const NOT_SHIPPED: &[&str] = &["bench", "e2e"];

/// One `FROM` and the instructions under it, comments left out and continuation lines
/// joined.
#[derive(Debug)]
pub struct Stage {
    pub base: String,
    pub name: Option<String>,
    pub body: String,
}

pub fn stages() -> Vec<Stage> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile exists");
    let joined = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let mut stages: Vec<Stage> = Vec::new();
    for line in joined.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|word| word.eq_ignore_ascii_case("FROM"))
        {
            let words: Vec<&str> = words[1..]
                .iter()
                .copied()
                .filter(|word| !word.starts_with("--platform"))
                .collect();
            stages.push(Stage {
                base: words.first().expect("FROM names an image").to_string(),
                name: words
                    .iter()
                    .position(|word| word.eq_ignore_ascii_case("AS"))
                    .map(|at| words[at + 1].to_owned()),
                body: String::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.body.push_str(line);
            stage.body.push('\n');
        }
    }
    stages
}

/// The bases pulled from a registry: every `FROM` that is not an earlier stage.
fn external_bases(stages: &[Stage]) -> Vec<&str> {
    stages
        .iter()
        .enumerate()
        .filter(|(at, stage)| {
            !stages[..*at]
                .iter()
                .any(|earlier| earlier.name.as_deref() == Some(stage.base.as_str()))
        })
        .map(|(_, stage)| stage.base.as_str())
        .collect()
}

#[test]
fn every_base_is_pinned_and_every_stage_is_on_one_debian_release() {
    let stages = stages();
    let bases = external_bases(&stages);
    assert!(bases.len() >= 2, "a builder and a runtime: {bases:?}");
    let mut releases = BTreeSet::new();
    for base in &bases {
        assert_eq!(unpinned(base), None, "FROM {base}");
        let tag = base.rsplit(':').next().unwrap_or_default();
        let release = DEBIAN_RELEASES
            .iter()
            .find(|release| tag.split('-').any(|part| part == **release))
            .unwrap_or_else(|| panic!("FROM {base} names its Debian release"));
        releases.insert(*release);
    }
    assert_eq!(
        releases.len(),
        1,
        "one glibc for building and running: {bases:?}"
    );
    let runtime = stages.last().expect("stages");
    assert!(
        bases.contains(&runtime.base.as_str()),
        "the runtime stage starts from a base image"
    );
}

#[test]
fn every_build_is_locked_and_the_runtime_stage_has_no_http_client() {
    let stages = stages();
    let mut builds = 0;
    for stage in &stages {
        for command in stage
            .body
            .split(['\n', ';'])
            .flat_map(|line| line.split("&&"))
        {
            if command.contains("cargo build") || command.contains("cargo chef cook") {
                builds += 1;
                assert!(command.contains("--locked"), "unlocked: {}", command.trim());
            }
        }
    }
    assert!(
        builds >= 3,
        "the dependencies cooked and the binaries built"
    );
    let runtime = &stages.last().expect("stages").body.to_lowercase();
    for client in ["curl", "wget"] {
        assert!(
            !runtime.contains(client),
            "the runtime stage installs {client}"
        );
    }
}

/// Every binary of the workspace's packages, as `(package, binary)`.
fn workspace_binaries() -> Vec<(String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let mut binaries = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("a name");
        for target in package["targets"].as_array().expect("targets") {
            let is_bin = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"));
            if is_bin {
                let binary = target["name"].as_str().expect("a name");
                binaries.push((name.to_owned(), binary.to_owned()));
            }
        }
    }
    binaries
}

#[test]
fn every_binary_of_the_platform_is_built_and_copied_into_the_runtime_image() {
    let stages = stages();
    let builder: String = stages[..stages.len() - 1]
        .iter()
        .map(|stage| stage.body.as_str())
        .collect();
    let runtime = &stages.last().expect("stages").body;
    assert!(
        runtime.contains("COPY --from=builder /out/ /usr/local/bin/"),
        "the runtime takes every binary the builder put in /out"
    );
    let binaries = workspace_binaries();
    assert!(binaries.iter().any(|(package, _)| package == "gateway"));
    for (package, binary) in binaries {
        if NOT_SHIPPED.contains(&package.as_str()) {
            continue;
        }
        assert!(
            builder.contains(&format!("-p {package} "))
                || builder.contains(&format!("-p {package}\n")),
            "the image builds {package}"
        );
        assert!(
            ["release", "gateway"].iter().any(|profile| {
                builder.contains(&format!("target/{profile}/{binary} "))
                    || builder.contains(&format!("target/{profile}/{binary}\n"))
            }),
            "the image copies {binary} into /out"
        );
    }
}
