//! `BINARY healthcheck`: a container's health check with nothing but the binary itself (no
//! curl in the image). It asks the binary's own `/ready` on loopback, at the port its
//! configuration gives, and exits 0 on a 2xx and 1 otherwise. It reads the port and the
//! listening address alone, so that the service's whole environment may be given to it
//! whatever else that environment holds.

use std::{
    ffi::OsString,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use clap::{ArgMatches, Command};

/// The subcommand's name.
pub const NAME: &str = "healthcheck";

/// Longest the whole check may take: below compose's time-out for the check (3 s), so
/// that a hung binary is reported by this check and not killed by the engine.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The subcommand for the binary whose command line is `binary`: that binary's own `--port`
/// and `--host`, with their variables and defaults; `None` when it has no `--port`.
pub fn command(binary: &Command) -> Option<Command> {
    let argument = |id: &str| binary.get_arguments().find(|arg| arg.get_id() == id);
    let mut command = Command::new(NAME)
        .bin_name(format!("{} {NAME}", binary.get_name()))
        .about("Exits 0 when this binary's /ready on loopback answers 2xx, 1 otherwise")
        .arg(argument("port")?.clone());
    if let Some(host) = argument("host") {
        command = command.arg(host.clone());
    }
    Some(command)
}

/// Where the check asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    address: SocketAddr,
}

impl Probe {
    /// The probe the subcommand's arguments describe: the configured port, on loopback when
    /// the binary listens on every address, else on the address it listens on.
    pub fn from_matches(matches: &ArgMatches) -> Result<Self, String> {
        let port = matches
            .try_get_one::<u16>("port")
            .map_err(|err| err.to_string())?
            .copied()
            .ok_or("no port")?;
        let host = matches
            .try_get_one::<IpAddr>("host")
            .map_err(|err| err.to_string())?
            .copied()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let host = match host {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            host => host,
        };
        Ok(Self {
            address: SocketAddr::new(host, port),
        })
    }

    /// The URL asked.
    pub fn url(&self) -> String {
        format!("http://{}/ready", self.address)
    }

    /// `Ok` when the binary answers 2xx within [`TIMEOUT`]; otherwise why not.
    pub async fn check(&self) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(TIMEOUT)
            .build()
            .map_err(|err| err.to_string())?;
        let response = client.get(self.url()).send().await.map_err(|err| {
            // reqwest's message alone says nothing of the cause (refused, timed out).
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            message
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    }
}

/// Runs the check `args` (the subcommand's name first) ask for, with `healthcheck` the
/// subcommand [`command`] made; returns the exit status: 0 healthy, 1 not.
pub fn run(mut healthcheck: Command, args: impl IntoIterator<Item = OsString>) -> i32 {
    let matches = match healthcheck.try_get_matches_from_mut(args) {
        Ok(matches) => matches,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            let _ = err.print();
            return 1;
        }
    };
    let outcome = Probe::from_matches(&matches).and_then(|probe| {
        // Called from inside the binary's runtime, where no other runtime may block: the
        // check gets a thread and a runtime of its own.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|err| err.to_string())?
                        .block_on(probe.check())
                        .map_err(|err| format!("{}: {err}", probe.url()))
                })
                .join()
                .unwrap_or_else(|_| Err("the check panicked".into()))
        })
    });
    match outcome {
        Ok(()) => 0,
        Err(err) => {
            eprintln!(
                "{}: unhealthy: {err}",
                healthcheck.get_bin_name().unwrap_or(NAME)
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{Arg, value_parser};

    use super::*;

    fn binary() -> Command {
        Command::new("sample")
            .arg(
                Arg::new("port")
                    .long("port")
                    .env("SAMPLE_HEALTH_PORT")
                    .default_value("3009")
                    .value_parser(value_parser!(u16)),
            )
            .arg(
                Arg::new("host")
                    .long("host")
                    .env("SAMPLE_HEALTH_HOST")
                    .default_value("0.0.0.0")
                    .value_parser(value_parser!(IpAddr)),
            )
            .arg(Arg::new("database_url").long("database-url").required(true))
    }

    fn probe(args: &[&str]) -> Probe {
        let matches = command(&binary())
            .expect("a port")
            .try_get_matches_from(args)
            .expect("the arguments parse");
        Probe::from_matches(&matches).expect("a probe")
    }

    #[test]
    fn it_asks_the_configured_port_on_loopback_and_needs_nothing_else() {
        assert_eq!(probe(&[NAME]).url(), "http://127.0.0.1:3009/ready");
        assert_eq!(
            probe(&[NAME, "--port", "4000", "--host", "::"]).url(),
            "http://[::1]:4000/ready"
        );
        assert_eq!(
            probe(&[NAME, "--host", "10.1.2.3"]).url(),
            "http://10.1.2.3:3009/ready"
        );
    }

    #[test]
    fn a_binary_without_a_port_has_no_health_check() {
        assert!(command(&Command::new("tool")).is_none());
    }

    async fn serving(status: u16) -> Probe {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let status = http::StatusCode::from_u16(status).expect("a status");
        let router =
            axum::Router::new().route("/ready", axum::routing::get(move || async move { status }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        probe(&[NAME, "--port", &port.to_string()])
    }

    #[tokio::test]
    async fn a_2xx_is_healthy_and_anything_else_is_not() {
        assert_eq!(serving(200).await.check().await, Ok(()));
        assert!(serving(503).await.check().await.is_err());
    }

    #[tokio::test]
    async fn a_closed_port_is_unhealthy() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let closed = probe(&[NAME, "--port", &port.to_string()]);
        assert!(closed.check().await.is_err());
    }
}
