use clap::Parser as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let config = seed::Config::parse();
    match seed::run(&config).await {
        Ok(report) => {
            report.print(&config);
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("seed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
