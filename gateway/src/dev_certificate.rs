//! `gateway dev-certificate --dir DIR`: a development certificate authority and a
//! certificate it signs for the gateway's local names, so that a local stack serves HTTPS
//! that curl and browsers can be told to trust (`curl --cacert DIR/ca.pem`), as mkcert does.
//! Each clone makes its own: no private key is ever committed. The authority's key is not
//! kept, so nothing else can be signed with it.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Parser;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The subcommand's name.
pub const NAME: &str = "dev-certificate";

/// Writes a development certificate for HTTPS.
#[derive(Debug, Parser)]
#[command(name = "gateway dev-certificate")]
pub struct DevCertificateArgs {
    /// Where `ca.pem`, `cert.pem` and `key.pem` go; a complete set already there is kept,
    /// a partial one replaced whole.
    #[arg(long, env = "DEV_CERTIFICATE_DIR")]
    pub dir: PathBuf,
    /// The names the certificate is for (DNS names or IP addresses).
    #[arg(long = "name", default_values = ["localhost", "gateway", "127.0.0.1", "::1"])]
    pub names: Vec<String>,
}

/// A development authority's certificate, and a certificate and key it issued.
#[derive(Debug)]
pub struct DevCertificate {
    pub ca_pem: String,
    pub chain_pem: String,
    pub key_pem: String,
}

impl DevCertificate {
    /// A fresh authority, and a certificate for `names` it signed.
    pub fn issue(names: &[String]) -> Result<Self, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name
            .push(DnType::CommonName, "food-delivery development CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf = CertificateParams::new(names.to_vec())?;
        leaf.distinguished_name
            .push(DnType::CommonName, "food-delivery gateway (development)");
        leaf.use_authority_key_identifier_extension = true;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &issuer)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Writes the three files into `dir` (created if need be), the key readable by its
    /// owner alone.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        std::fs::write(dir.join("cert.pem"), &self.chain_pem)?;
        // Created unreadable to others, not made so after the key is in it.
        let mut key = std::fs::OpenOptions::new();
        key.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut key, 0o600);
        std::io::Write::write_all(&mut key.open(dir.join("key.pem"))?, self.key_pem.as_bytes())
    }
}

/// Runs the subcommand if the arguments name it: its exit status then, else `None`.
pub fn run_if_asked(args: impl IntoIterator<Item = OsString>) -> Option<ExitCode> {
    let args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_none_or(|arg| arg != NAME) {
        return None;
    }
    let args = match DevCertificateArgs::try_parse_from(&args[1..]) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return Some(if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            });
        }
    };
    Some(match issue_unless_present(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gateway dev-certificate: {err}");
            ExitCode::FAILURE
        }
    })
}

/// Writes a certificate into the directory, unless one is there already: a restarted
/// stack keeps the authority its users were told to trust.
fn issue_unless_present(args: &DevCertificateArgs) -> Result<(), String> {
    let present = ["ca.pem", "cert.pem", "key.pem"].map(|name| args.dir.join(name).exists());
    if present.iter().all(|&there| there) {
        eprintln!(
            "gateway dev-certificate: {} already holds one; kept",
            args.dir.display()
        );
        return Ok(());
    }
    let issued = DevCertificate::issue(&args.names).map_err(|err| err.to_string())?;
    issued
        .write(&args.dir)
        .map_err(|err| format!("cannot write into {}: {err}", args.dir.display()))?;
    eprintln!(
        "gateway dev-certificate: wrote {}/{{ca,cert,key}}.pem for {}; trust ca.pem (curl --cacert)",
        args.dir.display(),
        args.names.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_dir() -> PathBuf {
        std::env::temp_dir().join(format!("dev-certificate-{}", uuid::Uuid::now_v7().simple()))
    }

    fn run(args: &[&str]) -> Option<ExitCode> {
        run_if_asked(["gateway"].iter().chain(args).map(OsString::from))
    }

    #[test]
    fn a_second_run_keeps_the_authority_users_were_told_to_trust() {
        let dir = fresh_dir();
        let dir_arg = dir.to_str().expect("a UTF-8 path");
        assert_eq!(run(&[NAME, "--dir", dir_arg]), Some(ExitCode::SUCCESS));
        let first = std::fs::read(dir.join("ca.pem")).expect("an authority written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("key.pem"))
                .expect("a key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is its owner's alone: {mode:o}");
        }
        assert_eq!(run(&[NAME, "--dir", dir_arg]), Some(ExitCode::SUCCESS));
        assert_eq!(std::fs::read(dir.join("ca.pem")).expect("kept"), first);

        std::fs::remove_file(dir.join("cert.pem")).expect("removed");
        assert_eq!(run(&[NAME, "--dir", dir_arg]), Some(ExitCode::SUCCESS));
        assert_ne!(
            std::fs::read(dir.join("ca.pem")).expect("written again"),
            first,
            "a partial set is replaced whole"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn other_commands_are_not_taken_and_a_bad_flag_is_refused_with_2() {
        assert_eq!(run(&["--port", "3000"]), None);
        assert_eq!(run(&[]), None);
        assert_eq!(run(&[NAME, "--no-such-flag"]), Some(ExitCode::from(2)));
        assert_eq!(run(&[NAME]), Some(ExitCode::from(2)), "no directory");
    }
}
