//! Settings from environment variables (SPEC section 1), each with a default.

use std::time::Duration;

use service_kit::{
    config::{self, ConfigError},
    postgres::PostgresConfig,
};

pub const DEFAULT_PORT: u16 = 8081;

/// How often the tally is re-read without a notification. It backs up LISTEN (a notification
/// can be lost while the listening connection is being replaced) and is the only source of
/// changes while the original worker, which sends no NOTIFY, writes the votes. A few seconds
/// keeps the page close to live at one cheap query per period.
const DEFAULT_SAFETY_POLL: Duration = Duration::from_secs(3);

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
    pub drain: Duration,
    pub sockets: crate::routes::SocketSettings,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Ok(Settings {
            port: config::parse_or("PORT", DEFAULT_PORT)?,
            database: PostgresConfig::from_env()?,
            option_a: config::var_or("OPTION_A", "Cats"),
            option_b: config::var_or("OPTION_B", "Dogs"),
            app_version: config::app_version(env!("CARGO_PKG_VERSION")),
            safety_poll: config::seconds_or("TALLY_POLL_SECONDS", DEFAULT_SAFETY_POLL)?,
            drain: service_kit::lifecycle::drain_from_env()?,
            sockets: crate::routes::SocketSettings::from_env()?,
        })
    }
}
