//! The certificates' PEM files, and what they held when last read: read once for both the
//! watcher's comparison and the parsing, so that a reload reads nothing twice.

use std::path::PathBuf;

/// A certificate chain's file and its private key's, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    pub chain: PathBuf,
    pub key: PathBuf,
}

/// What each pair's two files held when read: their bytes, or why they could not be read
/// (a file mid-replacement, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Contents(Vec<(Read, Read)>);

/// One file's bytes, or why they could not be read.
pub(super) type Read = Result<Vec<u8>, String>;

impl Contents {
    /// Reads every file of `files`, blocking: at start-up, or off the runtime's threads.
    pub fn read(files: &[CertificateFiles]) -> Self {
        let read = |path: &PathBuf| std::fs::read(path).map_err(|err| err.to_string());
        Self(
            files
                .iter()
                .map(|files| (read(&files.chain), read(&files.key)))
                .collect(),
        )
    }

    /// Each pair's chain and key, as read, in the order of the files.
    pub fn pairs(&self) -> &[(Read, Read)] {
        &self.0
    }
}
