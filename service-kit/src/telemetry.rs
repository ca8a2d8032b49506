//! Logging set-up: `RUST_LOG` filters (default `info`), `LOG_FORMAT` chooses `json` or
//! `text` (default: `json` when stdout is not a terminal, so that log collectors get
//! structured lines, and `text` for a person at a terminal).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{self, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err("expected json or text".to_owned()),
        }
    }
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() -> Result<(), ConfigError> {
    let default_format = if std::io::stdout().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    };
    let format = config::parse_or("LOG_FORMAT", default_format)?;
    let filter_text = config::var_or("RUST_LOG", "info");
    let filter = EnvFilter::try_new(&filter_text).map_err(|err| ConfigError {
        name: "RUST_LOG",
        value: Some(filter_text.clone()),
        reason: err.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    // A second call (a test that starts two programs) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}
