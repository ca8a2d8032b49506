//! The vote service's configuration, from the environment (SPEC section 1).

use std::time::Duration;

use service_kit::config::{self, ConfigError};

pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone)]
pub struct Settings {
    /// 0 lets the system choose, which the tests use.
    pub port: u16,
    pub redis_url: String,
    /// The Redis list the ballots are appended to.
    pub vote_queue: String,
    pub option_a: String,
    pub option_b: String,
    /// Shown next to the host name so that a rolling update is visible in the browser.
    pub app_version: String,
    pub hostname: String,
    /// How long a stopping replica keeps serving with readiness 503 (`SHUTDOWN_DRAIN_SECONDS`).
    pub shutdown_drain: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Ok(Settings {
            port: config::parse_or("PORT", DEFAULT_PORT)?,
            redis_url: config::var_or("REDIS_URL", "redis://redis:6379/0"),
            vote_queue: config::var_or("VOTE_QUEUE", "votes"),
            option_a: config::var_or("OPTION_A", "Cats"),
            option_b: config::var_or("OPTION_B", "Dogs"),
            app_version: config::app_version(env!("CARGO_PKG_VERSION")),
            hostname: config::hostname(),
            shutdown_drain: service_kit::lifecycle::drain_from_env()?,
        })
    }

    /// The label shown for an option.
    pub fn label(&self, option: service_kit::ballot::VoteOption) -> &str {
        match option {
            service_kit::ballot::VoteOption::A => &self.option_a,
            service_kit::ballot::VoteOption::B => &self.option_b,
        }
    }
}
