use service_kit::{healthcheck, lifecycle::StopSignals, logging};
use vote::{configuration::Settings, startup::Application};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First, so that a stop signal at any later point ends the process with status 0.
    let mut signals = StopSignals::install()?;
    healthcheck::run_if_requested(vote::configuration::DEFAULT_PORT);
    logging::init()?;
    let settings = Settings::from_env()?;
    let Some(app) = signals.unless_stopped(Application::build(settings)).await else {
        return Ok(());
    };
    app?.run_until_stopped(signals.received()).await?;
    Ok(())
}
