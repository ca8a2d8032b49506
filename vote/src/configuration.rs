//! The vote service's configuration, from the environment (SPEC section 1).

use std::time::Duration;

use service_kit::{
    config::{self, ConfigError},
    environment::Environment,
};

/// Where `healthcheck` looks when `PORT` is unset; the same as `environment.json`'s default.
pub const DEFAULT_PORT: u16 = 8080;

/// The variables the vote service reads, with their defaults and meanings.
pub const ENVIRONMENT: &str = include_str!("../environment.json");

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
        Settings::from_environment(&Environment::new(ENVIRONMENT))
    }

    pub fn from_environment(environment: &Environment) -> Result<Settings, ConfigError> {
        Ok(Settings {
            port: environment.parse("PORT")?,
            redis_url: environment.text("REDIS_URL"),
            vote_queue: environment.text("VOTE_QUEUE"),
            option_a: environment.text("OPTION_A"),
            option_b: environment.text("OPTION_B"),
            app_version: config::app_version(env!("CARGO_PKG_VERSION")),
            hostname: config::hostname(),
            shutdown_drain: environment.seconds("SHUTDOWN_DRAIN_SECONDS")?,
        })
    }

    /// The label shown for an option.
    pub fn label(&self, option: ballot::VoteOption) -> &str {
        match option {
            ballot::VoteOption::A => &self.option_a,
            ballot::VoteOption::B => &self.option_b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_json_lists_exactly_what_the_settings_read() {
        let environment = Environment::new(ENVIRONMENT);
        Settings::from_environment(&environment).expect("the defaults are valid settings");
        environment.assert_list_is_complete();
        assert_eq!(
            environment.text("PORT"),
            DEFAULT_PORT.to_string(),
            "healthcheck's default port agrees with the list"
        );
    }
}
