//! Settings from environment variables (SPEC section 1), each with a default.

use std::{str::FromStr, time::Duration};

use service_kit::config::{self, ConfigError};
use sqlx::postgres::PgConnectOptions;

pub const DEFAULT_PORT: u16 = 8081;
const DEFAULT_DATABASE_URL: &str = "postgres://postgres:postgres@db:5432/postgres";

/// How often the tally is re-read without a notification. It backs up LISTEN (a notification
/// can be lost while the listening connection is being replaced) and is the only source of
/// changes while the original worker, which sends no NOTIFY, writes the votes. A few seconds
/// keeps the page close to live at one cheap query per period.
const DEFAULT_SAFETY_POLL: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Settings {
    /// 0 picks a free port (tests).
    pub port: u16,
    pub database: PgConnectOptions,
    /// `DATABASE_URL` with the password redacted, for the start-up log line.
    pub database_url_redacted: String,
    pub option_a: String,
    pub option_b: String,
    pub app_version: String,
    pub safety_poll: Duration,
    /// How long a stopping service keeps serving with readiness 503 (SPEC section 6).
    pub drain: Duration,
    pub sockets: crate::routes::SocketSettings,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        let database_url = config::var_or("DATABASE_URL", DEFAULT_DATABASE_URL);
        let database = PgConnectOptions::from_str(&database_url).map_err(|err| ConfigError {
            name: "DATABASE_URL",
            value: config::redact_url(&database_url),
            reason: err.to_string(),
        })?;
        Ok(Settings {
            port: config::parse_or("PORT", DEFAULT_PORT)?,
            database,
            database_url_redacted: config::redact_url(&database_url),
            option_a: config::var_or("OPTION_A", "Cats"),
            option_b: config::var_or("OPTION_B", "Dogs"),
            app_version: config::app_version(env!("CARGO_PKG_VERSION")),
            safety_poll: config::seconds_or("TALLY_POLL_SECONDS", DEFAULT_SAFETY_POLL)?,
            drain: service_kit::lifecycle::drain_from_env()?,
            sockets: crate::routes::SocketSettings::from_env()?,
        })
    }
}
