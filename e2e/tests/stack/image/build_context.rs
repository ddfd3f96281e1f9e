//! The image's build context: `.dockerignore` leaves out what git ignores, and the history.

use std::collections::BTreeSet;

use crate::compose::root;

#[test]
fn the_build_context_leaves_out_what_git_ignores_and_the_history() {
    let read = |name: &str| {
        std::fs::read_to_string(root().join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
    };
    let patterns = |text: &str| -> BTreeSet<String> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
            .map(|line| line.trim_end_matches('/').to_owned())
            .collect()
    };
    let ignored = patterns(&read(".dockerignore"));
    assert!(ignored.contains(".git"), ".dockerignore leaves out .git");
    for pattern in patterns(&read(".gitignore")) {
        // git anchors a pattern at the root with a leading or inner `/`, and matches it at
        // every depth otherwise; a .dockerignore pattern is anchored, `**/` at every depth.
        let anchored = pattern.trim_start_matches('/');
        let covered = if pattern.contains('/') {
            ignored.contains(anchored) || ignored.contains(&format!("**/{anchored}"))
        } else {
            ignored.contains(&format!("**/{pattern}"))
        };
        assert!(
            covered,
            ".dockerignore leaves out {pattern}, as .gitignore does"
        );
    }
}
