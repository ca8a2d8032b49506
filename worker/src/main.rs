use worker::{configuration::Settings, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::healthcheck::run_if_requested(worker::configuration::DEFAULT_PORT);
    service_kit::telemetry::init()?;
    let settings = Settings::from_env()?;
    let application = Application::build(settings).await?;
    application
        .run_until_stopped(async {
            let signal = service_kit::lifecycle::shutdown_signal().await;
            tracing::info!(signal, "shutdown requested");
        })
        .await
}
