use std::{net::IpAddr, process::ExitCode};

use axum::serve::ListenerExt;
use clap::Parser;

/// The trivial upstream `scripts/bench` measures the gateway and nginx against.
#[derive(Debug, Parser)]
#[command(name = "bench-upstream", version, about)]
struct Args {
    /// Port to listen on.
    #[arg(long, env = "PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Runtime worker threads (default: one per core).
    #[arg(long, env = "WORKERS")]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers.max(1));
    }
    let result = runtime.enable_all().build().and_then(|runtime| {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind((args.host, args.port))
                .await?
                .tap_io(|stream| {
                    // Answers are one small write each: no reason to let them wait.
                    let _ = stream.set_nodelay(true);
                });
            axum::serve(listener, bench::router()).await
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench-upstream: {err}");
            ExitCode::FAILURE
        }
    }
}
