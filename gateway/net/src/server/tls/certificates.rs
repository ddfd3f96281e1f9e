//! The certificates the HTTPS listener presents: each read from its PEM files, chosen by the
//! name the client asks for (SNI), and swapped whole when the files change.
//!
//! The names come from each certificate's own subject alternative names, as Caddy and
//! Traefik read them, rather than from a setting repeating them: a certificate can only be
//! presented for the names it holds anyway.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;

use super::files::{CertificateFiles, Contents, Read};
use rustls::{
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// Why certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("no certificate was given: set TLS_CERT_FILES and TLS_KEY_FILES")]
    None,
    #[error("{chains} certificate files but {keys} key files: they go in pairs")]
    Unpaired { chains: usize, keys: usize },
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path} holds no certificate")]
    Empty { path: PathBuf },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The certificates, by the names they serve; cloning shares them.
#[derive(Debug, Clone)]
pub struct Certificates {
    files: Arc<[CertificateFiles]>,
    loaded: Arc<ArcSwap<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    /// The files' contents these were parsed from.
    contents: Contents,
    /// For a client that names no host, or one no certificate holds: the first given.
    default: Arc<CertifiedKey>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` as `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    names: Vec<String>,
}

impl Certificates {
    /// Reads every pair of `files`; the first is the default.
    pub fn load(files: Vec<CertificateFiles>) -> Result<Self, CertificateError> {
        let loaded = parse_all(&files, Contents::read(&files))?;
        Ok(Self {
            files: files.into(),
            loaded: Arc::new(ArcSwap::from_pointee(loaded)),
        })
    }

    /// Presents what `contents` (the files read again) hold from the next handshake on; on
    /// an error the certificates presented so far stay.
    pub(super) fn reload_from(&self, contents: Contents) -> Result<(), CertificateError> {
        self.loaded
            .store(Arc::new(parse_all(&self.files, contents)?));
        Ok(())
    }

    /// What the files held when the certificates presented now were read.
    pub(super) fn contents(&self) -> Contents {
        self.loaded.load().contents.clone()
    }

    /// The files read, for watching them.
    pub fn files(&self) -> &[CertificateFiles] {
        &self.files
    }

    /// The names the certificates serve, `*.` for a wildcard's.
    pub fn names(&self) -> Vec<String> {
        self.loaded.load().names.clone()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let loaded = self.loaded.load();
        let chosen = hello.server_name().and_then(|name| {
            let name = name.to_ascii_lowercase();
            loaded.exact.get(&name).or_else(|| {
                let (_, parent) = name.split_once('.')?;
                loaded.wildcard.get(parent)
            })
        });
        Some(Arc::clone(chosen.unwrap_or(&loaded.default)))
    }
}

fn parse_all(files: &[CertificateFiles], contents: Contents) -> Result<Loaded, CertificateError> {
    let mut keys = files
        .iter()
        .zip(contents.pairs())
        .map(|(files, (chain, key))| parse_pair(files, chain, key));
    let first = keys.next().ok_or(CertificateError::None)??;
    let mut loaded = Loaded {
        contents: contents.clone(),
        default: Arc::clone(&first.0),
        exact: HashMap::new(),
        wildcard: HashMap::new(),
        names: Vec::new(),
    };
    for pair in std::iter::once(Ok(first)).chain(keys) {
        let (key, names) = pair?;
        for name in names {
            let by = match name.strip_prefix("*.") {
                Some(parent) => loaded.wildcard.entry(parent.to_owned()),
                None => loaded.exact.entry(name.clone()),
            };
            // The first certificate given for a name keeps it, as nginx's first server does.
            if matches!(by, std::collections::hash_map::Entry::Vacant(_)) {
                loaded.names.push(name);
            }
            by.or_insert_with(|| Arc::clone(&key));
        }
    }
    Ok(loaded)
}

/// One pair's certified key, and the DNS names its certificate holds (lower-case), from
/// the contents of its `files`.
fn parse_pair(
    files: &CertificateFiles,
    chain: &Read,
    key: &Read,
) -> Result<(Arc<CertifiedKey>, Vec<String>), CertificateError> {
    let unread = |path: &PathBuf, message: String| CertificateError::Read {
        path: path.clone(),
        message,
    };
    let chain_pem = chain
        .as_deref()
        .map_err(|err| unread(&files.chain, err.clone()))?;
    let key_pem = key
        .as_deref()
        .map_err(|err| unread(&files.key, err.clone()))?;
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| unread(&files.chain, err.to_string()))?;
    let leaf = chain.first().ok_or_else(|| CertificateError::Empty {
        path: files.chain.clone(),
    })?;
    let invalid = |path: &PathBuf, message: String| CertificateError::Invalid {
        path: path.clone(),
        message,
    };
    let names = webpki::EndEntityCert::try_from(leaf)
        .map_err(|err| invalid(&files.chain, err.to_string()))?
        .valid_dns_names()
        .map(str::to_ascii_lowercase)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|err| unread(&files.key, err.to_string()))?;
    let certified =
        CertifiedKey::from_der(chain, key, &ring::default_provider()).map_err(|err| {
            invalid(
                &files.key,
                format!("not the key of {}: {err}", files.chain.display()),
            )
        })?;
    Ok((Arc::new(certified), names))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate for `names` and its key, written into a folder of its own.
    fn issued(names: &[&str]) -> (PathBuf, CertificateFiles) {
        let dir = std::env::temp_dir().join(format!("certificates-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).expect("a folder");
        let key = rcgen::KeyPair::generate().expect("a key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .expect("names")
            .self_signed(&key)
            .expect("a certificate");
        let files = CertificateFiles {
            chain: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.chain, cert.pem()).expect("written");
        std::fs::write(&files.key, key.serialize_pem()).expect("written");
        (dir, files)
    }

    fn unique_suffix() -> String {
        format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        )
    }

    #[test]
    fn each_certificates_names_are_read_from_it_the_first_keeping_a_name_given_twice() {
        let (one, first) = issued(&["a.test", "*.shop.test"]);
        let (two, second) = issued(&["a.test", "b.test"]);
        let certificates = Certificates::load(vec![first, second]).expect("loaded");
        assert_eq!(certificates.names(), ["a.test", "*.shop.test", "b.test"]);
        for dir in [one, two] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_missing_file_an_empty_chain_and_a_key_of_another_certificate_are_refused_naming_the_file()
    {
        let (one, first) = issued(&["a.test"]);
        let (two, second) = issued(&["b.test"]);
        let missing = CertificateFiles {
            chain: one.join("nowhere.pem"),
            key: first.key.clone(),
        };
        let refused = Certificates::load(vec![missing]).expect_err("no such file");
        assert!(refused.to_string().contains("nowhere.pem"), "{refused}");

        std::fs::write(two.join("empty.pem"), "").expect("written");
        let empty = CertificateFiles {
            chain: two.join("empty.pem"),
            key: second.key.clone(),
        };
        let refused = Certificates::load(vec![empty]).expect_err("no certificate");
        assert!(
            matches!(refused, CertificateError::Empty { .. }),
            "{refused}"
        );

        let crossed = CertificateFiles {
            chain: first.chain.clone(),
            key: second.key.clone(),
        };
        let refused = Certificates::load(vec![crossed]).expect_err("another's key");
        assert!(refused.to_string().contains("not the key of"), "{refused}");
        assert!(matches!(
            Certificates::load(Vec::new()),
            Err(CertificateError::None)
        ));
        for dir in [one, two] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_failed_reload_keeps_the_certificates_served() {
        let (dir, files) = issued(&["a.test"]);
        let certificates = Certificates::load(vec![files.clone()]).expect("loaded");
        std::fs::write(&files.key, "not a key").expect("written");
        let read_again = Contents::read(std::slice::from_ref(&files));
        assert!(certificates.reload_from(read_again).is_err());
        assert_eq!(certificates.names(), ["a.test"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
