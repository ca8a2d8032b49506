//! Logging set-up: `RUST_LOG` filters (default `info`), `LOG_FORMAT` chooses `json` or
//! `text` (default: `json` when stdout is not a terminal, so that log collectors get
//! structured lines, and `text` for a person at a terminal). Every JSON line carries the
//! instance's name (`POD_NAME`, else the host name) as `instance`, so that the lines of many
//! replicas, mixed by `kubectl logs -l app=vote` or a log collector, can be told apart.

use std::{fmt, io::IsTerminal};

use tracing::{Event, Subscriber};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{Format, Json, JsonFields, Writer},
    },
    registry::LookupSpan,
};

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

/// The name of this instance in the logs: `POD_NAME` (the manifests set it from the downward
/// API), else the host name (in a container, its ID).
pub fn instance_name() -> String {
    config::var_or("POD_NAME", &config::hostname())
}

/// tracing-subscriber's JSON line with an `instance` field in front.
struct JsonWithInstance {
    inner: Format<Json>,
    /// `"instance":"<name>",` ready to splice in after the line's opening brace.
    field: String,
}

impl JsonWithInstance {
    fn new(instance: &str) -> Self {
        let name = serde_json::Value::from(instance);
        JsonWithInstance {
            inner: Format::default()
                .json()
                .flatten_event(true)
                .with_current_span(false),
            field: format!("\"instance\":{name},"),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithInstance
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{{}{rest}", self.field),
            // The JSON formatter always writes an object; pass anything else through untouched.
            None => writer.write_str(&line),
        }
    }
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() -> Result<(), ConfigError> {
    let on_terminal = std::io::stdout().is_terminal();
    let default_format = if on_terminal {
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
        .with_writer(std::io::stdout)
        // Colour codes only for a person at a terminal, never into a file or a collector.
        .with_ansi(on_terminal);
    // A second call (a test that starts two programs) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(JsonWithInstance::new(&instance_name()))
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}
