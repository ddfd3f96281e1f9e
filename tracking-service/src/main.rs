use tracking_service::{Application, Config, SERVICE};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config: Config = shared::config::parse();
    let common = config.service.common.clone();
    shared::server::main(SERVICE, &common, async move {
        Application::build(config).await?.run_until_stopped().await
    })
    .await
}
