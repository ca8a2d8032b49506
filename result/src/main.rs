use result::{configuration::Settings, startup::Application};
use service_kit::{healthcheck, lifecycle::StopSignals, logging};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // First, so that a stop signal at any later point ends the process with status 0.
    let mut signals = StopSignals::install()?;
    healthcheck::run_if_requested(result::configuration::DEFAULT_PORT);
    logging::init()?;
    let settings = Settings::from_env()?;
    let Some(application) = signals.unless_stopped(Application::build(settings)).await else {
        return Ok(());
    };
    application?.run_until_stopped(signals.received()).await?;
    Ok(())
}
