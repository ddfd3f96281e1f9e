//! TLS termination with rustls: the HTTPS listener's settings, its certificates (chosen by
//! SNI, reloaded when their files change) and the handshake that offers HTTP/2 and
//! HTTP/1.1 by ALPN. TLS 1.2 and 1.3 only, with rustls' safe defaults (no renegotiation,
//! no compression, forward-secret suites).

mod certificates;
mod files;
mod reload;

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::Args;
use rustls::{ServerConfig, crypto::ring};
use tokio_rustls::TlsAcceptor;

pub(super) use self::reload::watch_files;
pub(crate) use self::{
    certificates::{CertificateError, Certificates},
    files::CertificateFiles,
};

/// The HTTPS listener's settings.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// The HTTPS port (none: no HTTPS listener); HTTP/2 and HTTP/1.1 are offered on it.
    #[arg(long, env = "TLS_PORT")]
    pub tls_port: Option<u16>,
    /// PEM certificate chains, comma-separated, each served for the DNS names its leaf holds;
    /// the first also to clients that name no host, or one no certificate holds.
    #[arg(long = "tls-cert-file", env = "TLS_CERT_FILES", value_delimiter = ',')]
    pub tls_cert_files: Vec<PathBuf>,
    /// The PEM private keys of those chains, in the same order.
    #[arg(long = "tls-key-file", env = "TLS_KEY_FILES", value_delimiter = ',')]
    pub tls_key_files: Vec<PathBuf>,
    /// How often the certificate and key files are read for a change, which is then served
    /// from the next handshake on without a restart.
    #[arg(long, env = "TLS_RELOAD_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub tls_reload_interval: Duration,
    /// `Strict-Transport-Security`'s max-age on HTTPS answers (`0s`: none sent).
    #[arg(long, env = "HSTS_MAX_AGE", default_value = "365d", value_parser = humantime::parse_duration)]
    pub hsts_max_age: Duration,
    /// Answers plain HTTP requests with a permanent redirect to HTTPS (health probes aside).
    #[arg(long, env = "REDIRECT_TO_HTTPS", default_value_t = false, action = clap::ArgAction::Set)]
    pub redirect_to_https: bool,
}

impl TlsArgs {
    /// The certificate pairs given, checked to pair up.
    pub fn files(&self) -> Result<Vec<CertificateFiles>, CertificateError> {
        if self.tls_cert_files.len() != self.tls_key_files.len() {
            return Err(CertificateError::Unpaired {
                chains: self.tls_cert_files.len(),
                keys: self.tls_key_files.len(),
            });
        }
        Ok(self
            .tls_cert_files
            .iter()
            .zip(&self.tls_key_files)
            .map(|(chain, key)| CertificateFiles {
                chain: chain.clone(),
                key: key.clone(),
            })
            .collect())
    }
}

/// The HTTPS listener's handshake and what it presents.
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    config: Arc<ServerConfig>,
    pub(super) certificates: Certificates,
    pub(super) reload_interval: Duration,
}

impl Tls {
    /// A handshake presenting `certificates`, which are read again every `reload_interval`.
    pub fn new(certificates: Certificates, reload_interval: Duration) -> Self {
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring's provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(certificates.clone()));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Self {
            config: Arc::new(config),
            certificates,
            reload_interval,
        }
    }

    /// The server's side of a handshake.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.config))
    }

    /// The handshake `args` describe, its certificates read.
    pub fn from_args(args: &TlsArgs) -> Result<Self, CertificateError> {
        let certificates = Certificates::load(args.files()?)?;
        Ok(Self::new(certificates, args.tls_reload_interval))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Settings {
        #[command(flatten)]
        tls: TlsArgs,
    }

    #[test]
    fn certificate_and_key_files_pair_up_and_an_odd_one_is_refused_with_both_counts() {
        let args = Settings::parse_from([
            "gateway",
            "--tls-cert-file",
            "a.pem,b.pem",
            "--tls-key-file",
            "a.key",
        ])
        .tls;
        let refused = args.files().expect_err("unpaired");
        assert_eq!(
            refused.to_string(),
            "2 certificate files but 1 key files: they go in pairs"
        );
        let args = Settings::parse_from([
            "gateway",
            "--tls-cert-file",
            "a.pem",
            "--tls-key-file",
            "a.key",
        ])
        .tls;
        assert_eq!(
            args.files().expect("paired"),
            [CertificateFiles {
                chain: "a.pem".into(),
                key: "a.key".into()
            }]
        );
    }
}
