//! curl, the client users reach the gateway with, run as a process: HTTP/2 over TLS
//! (`--http2`), with prior knowledge (`--http2-prior-knowledge`), a private authority
//! (`--cacert`).

use std::{path::PathBuf, sync::Arc};

use gateway::dev_certificate::DevCertificate;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};

/// What curl received.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// `1.1` or `2`.
    pub version: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first value of header `name`, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(have, _)| have == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Runs curl with `args` (and `-sS -i`); panics if curl fails (its message then).
pub async fn curl(args: &[&str]) -> Answer {
    try_curl(args).await.expect("curl succeeds")
}

/// Runs curl with `args`; its error message if it fails (no connection, a refused
/// certificate).
pub async fn try_curl(args: &[&str]) -> Result<Answer, String> {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "-i", "--max-time", "30", "-w", "\n%{http_version}"])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (answer, version) = text.rsplit_once('\n').expect("curl's closing line");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        version: version.trim().to_owned(),
        headers,
        body: body.to_owned(),
    })
}

/// A development authority and a certificate it issued for some names, in a folder of
/// their own removed when dropped.
#[derive(Debug)]
pub struct TestCertificates {
    pub dir: PathBuf,
}

impl TestCertificates {
    /// Issues one for `names`.
    pub fn issue(names: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("gateway-tls-{}", uuid::Uuid::now_v7()));
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        DevCertificate::issue(&names)
            .expect("a certificate")
            .write(&dir)
            .expect("written");
        Self { dir }
    }

    /// The authority's certificate, for `--cacert`.
    pub fn ca(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }
}

/// A TLS client's settings trusting `authorities` alone.
pub fn client_config(authorities: &[&TestCertificates]) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    for authority in authorities {
        let ca = CertificateDer::from_pem_file(authority.dir.join("ca.pem")).expect("a CA");
        roots.add(ca).expect("a root");
    }
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
