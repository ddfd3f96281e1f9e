use std::{net::IpAddr, process::ExitCode, time::Duration};

use axum::http::Uri;
use clap::{Parser, ValueEnum};
use gateway_net::server::{Serve, Server};

// As in the gateway, so that the two differ by their features and not their allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A proxy with nothing but the HTTP stack the gateway is built on, the floor `scripts/bench`
/// measures the gateway against.
#[derive(Debug, Parser)]
#[command(name = "bench-bare-proxy", version, about)]
struct Args {
    /// Port to listen on.
    #[arg(long, env = "PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Where every request is forwarded (`http://host:port`), kept as the address to dial.
    #[arg(long, env = "UPSTREAM_URL", value_parser = parse_upstream_url)]
    upstream_url: String,
    /// Serving threads (0: one per core, as the gateway's default).
    #[arg(long, env = "WORKERS", default_value_t = 0)]
    workers: usize,
    /// The client of the upstream calls: the gateway's own, or hyper's
    /// (`client::conn::http1`, idle connections per serving thread), to compare the two.
    #[arg(long, env = "BARE_PROXY_CLIENT", value_enum, default_value_t = Client::Own)]
    client: Client,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Client {
    /// `gateway_net::client::OriginPool`.
    Own,
    /// `hyper::client::conn::http1`.
    Hyper,
}

/// An absolute `http://` URL, as the gateway's backend URLs are checked; its `host:port`.
fn parse_upstream_url(value: &str) -> Result<String, String> {
    let url: Uri = shared::config::parse_http_url(value)?
        .parse()
        .map_err(|err: axum::http::uri::InvalidUri| err.to_string())?;
    gateway_net::client::dial_address(&url)
        .ok_or_else(|| format!("`{value}` is not an http:// URL"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let workers = gateway_net::server::workers_or_cores(args.workers);
    let served = match args.client {
        Client::Own => {
            let proxy = bench::bare_proxy::BareProxy::new(args.upstream_url);
            serve(args.host, args.port, proxy, workers).await
        }
        Client::Hyper => {
            let proxy = bench::bare_proxy_hyper::BareHyperProxy::through(
                bench::bare_proxy_hyper::HyperPool::new(args.upstream_url),
            );
            serve(args.host, args.port, proxy, workers).await
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-bare-proxy: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve<S: Serve>(host: IpAddr, port: u16, proxy: S, workers: usize) -> Result<(), String> {
    match Server::bind_workers(host, port, proxy, Duration::from_secs(1), workers) {
        Ok(server) => server
            .run_until_stopped()
            .await
            .map_err(|err| err.to_string()),
        Err(err) => Err(err.to_string()),
    }
}
