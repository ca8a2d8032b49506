//! The worker's settings (SPEC section 1), each from an environment variable with a default.

use std::time::Duration;

use service_kit::{
    config::ConfigError, environment::Environment, postgres::PostgresConfig, redis_url,
};

/// Where `healthcheck` looks when `PORT` is unset; the same as `environment.json`'s default.
pub const DEFAULT_PORT: u16 = 8082;

/// The variables the worker reads, with their defaults and meanings.
pub const ENVIRONMENT: &str = include_str!("../environment.json");

/// Messages taken from the queue per transaction. Big batches are what make the consumer fast
/// (one round trip and one commit for thousands of votes); the Lua script that takes them
/// runs inside Redis, so this also bounds how long Redis is busy with one take. The default
/// (5,000) is in `environment.json`.
const MAX_BATCH_SIZE: usize = 50_000;

/// How long a worker's lease on its messages lasts without renewal. SPEC section 4 wants held
/// messages back in play within 30 s of a worker's death: that takes at most a lease plus one
/// housekeeping period (a third of the lease), so the lease may be at most 20 s. The default
/// (10 s) is in `environment.json`.
const LEASE_SECS_RANGE: std::ops::RangeInclusive<u64> = 3..=20;

#[derive(Debug, Clone)]
pub struct Settings {
    pub redis_url: String,
    /// `DATABASE_URL` and `DATABASE_PASSWORD_FILE`, parsed.
    pub database: PostgresConfig,
    /// The Redis list the vote service appends to; every other key we use starts with it.
    pub queue: String,
    pub port: u16,
    pub batch_size: usize,
    pub lease: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_environment(&Environment::new(ENVIRONMENT))
    }

    pub fn from_environment(environment: &Environment) -> Result<Settings, ConfigError> {
        let batch_size: usize = environment.parse("WORKER_BATCH_SIZE")?;
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(ConfigError {
                name: "WORKER_BATCH_SIZE",
                value: Some(batch_size.to_string()),
                reason: format!("must be between 1 and {MAX_BATCH_SIZE}"),
            });
        }
        let lease_secs: u64 = environment.parse("WORKER_LEASE_SECS")?;
        if !LEASE_SECS_RANGE.contains(&lease_secs) {
            return Err(ConfigError {
                name: "WORKER_LEASE_SECS",
                value: Some(lease_secs.to_string()),
                reason: format!(
                    "must be between {} and {} seconds, so that a dead worker's messages \
                     are recovered within 30 s",
                    LEASE_SECS_RANGE.start(),
                    LEASE_SECS_RANGE.end()
                ),
            });
        }
        Ok(Settings {
            redis_url: environment.text("REDIS_URL"),
            database: PostgresConfig::from_environment(environment)?,
            queue: environment.text("VOTE_QUEUE"),
            port: environment.parse("PORT")?,
            batch_size,
            lease: Duration::from_secs(lease_secs),
        })
    }

    /// The settings as one log line's fields, passwords redacted.
    pub fn log_effective(&self) {
        tracing::info!(
            redis_url = %redis_url::for_log(&self.redis_url),
            database_url = %self.database,
            queue = %self.queue,
            port = self.port,
            batch_size = self.batch_size,
            lease_secs = self.lease.as_secs(),
            version = env!("CARGO_PKG_VERSION"),
            "worker configuration"
        );
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
