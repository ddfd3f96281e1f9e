//! The configuration reference (docs/configuration.md) cannot drift from the binaries.

use std::path::Path;

use crate::binaries;

#[test]
fn the_configuration_reference_documents_every_flag_and_variable_of_every_binary() {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .expect("docs/configuration.md exists");
    let seed = binaries::Binary {
        name: "seed",
        port: 0,
        command: <seed::Config as clap::CommandFactory>::command,
    };
    for binary in binaries::all().into_iter().chain([seed]) {
        for arg in (binary.command)().get_arguments() {
            let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
                continue;
            };
            let env = env.to_string_lossy();
            let row = format!("| `--{long}` | `{env}` |");
            assert!(
                readme.contains(&row),
                "docs/configuration.md documents {}'s --{long} / {env}",
                binary.name
            );
        }
    }
}
