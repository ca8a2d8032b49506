//! Settings from environment variables (service-kit's `config`): what reading and parsing a
//! value must do with any input.
//!
//! - A variable that is set to anything but blanks is never taken as unset (which would
//!   silently give the default).
//! - A port is accepted exactly when it is a decimal number up to 65535 (spaces around it and
//!   a leading `+` allowed); a duration exactly when it is a finite, non-negative number of
//!   seconds, and then it is that many seconds.
//! - A refusal names the variable, in one line however the value is made.
//!
//! The fuzz target `settings` and service-kit's property tests (`tests/parsers.rs`) both check
//! these.

use std::{ffi::OsStr, time::Duration};

use service_kit::config::{ConfigError, parse_value, seconds_value, set_value};

/// A raw value, as the operating system hands it over (not always UTF-8).
pub fn check_raw_value(raw: &OsStr) {
    let value = set_value(Some(raw));
    match (raw.to_str(), &value) {
        (Some(text), None) => assert!(text.trim().is_empty(), "{raw:?} is taken as unset"),
        (Some(text), Some(value)) => assert_eq!(value, text),
        (None, None) => panic!("{raw:?}, not UTF-8, is taken as unset"),
        (None, Some(_)) => {}
    }
    if let Some(value) = value {
        check_value(&value);
    }
}

/// A value as set, given to a port and to a duration.
pub fn check_value(value: &str) {
    let trimmed = value.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let is_port = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|port| port <= 65535);
    match parse_value::<u16>("PORT", value) {
        Ok(port) => {
            assert!(is_port, "{value:?} is accepted as port {port}");
            assert_eq!(u32::from(port), digits.parse::<u32>().unwrap_or(u32::MAX));
        }
        Err(err) => {
            assert!(!is_port, "the port {value:?} is refused: {err}");
            assert_names_the_variable(&err, "PORT");
        }
    }

    let number = trimmed.parse::<f64>().ok();
    match seconds_value("DRAIN_SECONDS", value) {
        Ok(duration) => {
            let seconds = number.unwrap_or_else(|| panic!("{value:?} is accepted as {duration:?}"));
            assert!(
                seconds >= 0.0 && seconds.is_finite(),
                "{value:?} -> {duration:?}"
            );
            // One nanosecond is the resolution of a Duration.
            let difference = (duration.as_secs_f64() - seconds).abs();
            assert!(
                difference <= 1e-9_f64.max(seconds * 1e-15),
                "{value:?} is read as {duration:?}"
            );
        }
        Err(err) => {
            if let Some(seconds) = number {
                assert!(
                    !(seconds >= 0.0 && seconds < Duration::MAX.as_secs_f64()),
                    "the duration {value:?} is refused: {err}"
                );
            }
            assert_names_the_variable(&err, "DRAIN_SECONDS");
        }
    }
}

fn assert_names_the_variable(err: &ConfigError, name: &str) {
    let message = err.to_string();
    assert!(message.contains(name), "{message:?} does not name {name}");
    assert!(
        !message.chars().any(char::is_control),
        "{message:?} is not one line"
    );
}
