use std::{io::Write, process::ExitCode};

use bench::saga::{Args, remove_namespace, run};
use clap::Parser;

/// Measures the order saga through the gateway (`scripts/bench-saga` starts the platform
/// and runs this against it).
#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.remove_namespace {
        remove_namespace(&args);
        return ExitCode::SUCCESS;
    }
    match run(args).await {
        Ok(report) => {
            let _ = writeln!(std::io::stdout(), "{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("bench-saga: {err}");
            ExitCode::FAILURE
        }
    }
}
