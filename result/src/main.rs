use result::{configuration::Settings, startup::Application};
use service_kit::{healthcheck, lifecycle, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    healthcheck::run_if_requested(result::configuration::DEFAULT_PORT);
    telemetry::init()?;
    let settings = Settings::from_env()?;
    let application = Application::build(settings).await?;
    application
        .run_until_stopped(async {
            let signal = lifecycle::shutdown_signal().await;
            tracing::info!(signal, "shutdown requested");
        })
        .await?;
    Ok(())
}
