use gateway::{Application, Config, SERVICE};

// Every request allocates; glibc's allocator showed up high in the profile under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// This thread serves as the first worker; the others get a thread and runtime each.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    if let Some(status) = gateway::dev_certificate::run_if_asked(std::env::args_os()) {
        return status;
    }
    let config: Config = shared::config::parse();
    let common = config.common.clone();
    shared::server::main(SERVICE, &common, async move {
        Application::build(config).await?.run_until_stopped().await
    })
    .await
}
