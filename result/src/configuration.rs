//! Settings from environment variables (SPEC section 1), each with a default.

use std::time::Duration;

use service_kit::{
    config::{self, ConfigError},
    environment::Environment,
    postgres::PostgresConfig,
};

/// Where `healthcheck` looks when `PORT` is unset; the same as `environment.json`'s default.
pub const DEFAULT_PORT: u16 = 8081;

/// The variables the result service reads, with their defaults and meanings. The safety
/// poll's default (`TALLY_POLL_SECONDS`, 3 s) is there: the poll backs up LISTEN (a
/// notification can be lost while the listening connection is being replaced) and is the only
/// source of changes while the original worker, which sends no NOTIFY, writes the votes; a few
/// seconds keeps the page close to live at one cheap query per period.
pub const ENVIRONMENT: &str = include_str!("../environment.json");

#[derive(Debug, Clone)]
pub struct Settings {
    /// 0 picks a free port (tests).
    pub port: u16,
    /// `DATABASE_URL` and `DATABASE_PASSWORD_FILE`, parsed; shown without the password.
    pub database: PostgresConfig,
    pub option_a: String,
    pub option_b: String,
    pub app_version: String,
    pub safety_poll: Duration,
    /// How long a stopping service keeps serving with readiness 503 (SPEC section 6).
    pub shutdown_drain: Duration,
    pub sockets: crate::routes::SocketSettings,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_environment(&Environment::new(ENVIRONMENT))
    }

    pub fn from_environment(environment: &Environment) -> Result<Settings, ConfigError> {
        Ok(Settings {
            port: environment.parse("PORT")?,
            database: PostgresConfig::from_environment(environment)?,
            option_a: environment.text("OPTION_A"),
            option_b: environment.text("OPTION_B"),
            app_version: config::app_version(env!("CARGO_PKG_VERSION")),
            safety_poll: environment.seconds("TALLY_POLL_SECONDS")?,
            shutdown_drain: environment.seconds("SHUTDOWN_DRAIN_SECONDS")?,
            sockets: crate::routes::SocketSettings::from_environment(environment)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_json_lists_exactly_what_the_settings_read() {
        let environment = Environment::new(ENVIRONMENT);
        let settings =
            Settings::from_environment(&environment).expect("the defaults are valid settings");
        environment.assert_list_is_complete();
        // The socket settings' Default (what tests start from) is the list's.
        let (listed, default) = (settings.sockets, crate::routes::SocketSettings::default());
        assert_eq!(listed.heartbeat, default.heartbeat);
        assert_eq!(listed.client_timeout, default.client_timeout);
        assert_eq!(listed.max_sockets, default.max_sockets);
        assert_eq!(
            environment.text("PORT"),
            DEFAULT_PORT.to_string(),
            "healthcheck's default port agrees with the list"
        );
    }
}
