//! Settings come from environment variables, each with a default (SPEC section 1).

use std::{env, ffi::OsStr, fmt::Display, str::FromStr, time::Duration};

/// A variable is set to something the program cannot use. The message names the variable so
/// that an operator knows what to change.
#[derive(Debug)]
pub struct ConfigError {
    pub name: &'static str,
    /// The value as it may be shown; `None` for a value that may hold a secret (a URL with a
    /// password), which the message then leaves out.
    pub value: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(value) => write!(f, "environment variable {}={value:?}", self.name)?,
            None => write!(f, "environment variable {}", self.name)?,
        }
        write!(f, " is invalid: {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// The value of `name` as it is set: `None` when it is unset or empty (an empty value in a
/// compose file or a manifest means "not configured", never "the empty string").
pub fn value_of(name: &str) -> Option<String> {
    set_value(env::var_os(name).as_deref())
}

/// A variable's raw value (`None`: unset) as [`value_of`] reads it. A value that is not UTF-8
/// is kept, each bad byte as U+FFFD, so that it is refused (or shown) by whatever reads it
/// rather than taken as unset, which would silently give the default.
pub fn set_value(raw: Option<&OsStr>) -> Option<String> {
    raw.map(OsStr::to_string_lossy)
        .filter(|value| !value.trim().is_empty())
        .map(|value| value.into_owned())
}

/// `value`, as `name` is set, parsed as a `T` (surrounding spaces ignored); the error names
/// the variable.
pub fn parse_value<T>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    value.trim().parse().map_err(|err: T::Err| ConfigError {
        name,
        value: Some(value.to_owned()),
        reason: err.to_string(),
    })
}

/// `value`, as `name` is set, as a non-negative number of seconds (fractions allowed, so tests
/// can say `0.2`).
pub fn seconds_value(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let seconds: f64 = parse_value(name, value)?;
    Duration::try_from_secs_f64(seconds).map_err(|err| ConfigError {
        name,
        value: Some(seconds.to_string()),
        reason: err.to_string(),
    })
}

/// The value of `name`, or `default` when it is unset or empty.
pub fn var_or(name: &'static str, default: &str) -> String {
    value_of(name).unwrap_or_else(|| default.to_owned())
}

/// `name` parsed as a `T`, or `default` when it is unset or empty.
pub fn parse_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    value_of(name).map_or(Ok(default), |value| parse_value(name, &value))
}

/// `name` as a non-negative number of seconds, or `default` when it is unset or empty.
pub fn seconds_or(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    value_of(name).map_or(Ok(default), |value| seconds_value(name, &value))
}

/// The version shown on the pages: `APP_VERSION`, or the version of the crate that calls.
pub fn app_version(crate_version: &str) -> String {
    var_or("APP_VERSION", crate_version)
}

/// The host name that "Processed by container ID" shows: in a container, the container ID.
pub fn hostname() -> String {
    env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_or_names_the_variable() {
        // SAFETY of the test: the variable name is unique to this test.
        unsafe { env::set_var("SERVICE_KIT_TEST_PORT", "eighty") };
        let err = parse_or::<u16>("SERVICE_KIT_TEST_PORT", 1).unwrap_err();
        assert!(err.to_string().contains("SERVICE_KIT_TEST_PORT"), "{err}");
        unsafe { env::set_var("SERVICE_KIT_TEST_PORT", " 81 ") };
        assert_eq!(parse_or::<u16>("SERVICE_KIT_TEST_PORT", 1).unwrap(), 81);
        unsafe { env::remove_var("SERVICE_KIT_TEST_PORT") };
        assert_eq!(parse_or::<u16>("SERVICE_KIT_TEST_PORT", 1).unwrap(), 1);
    }

    /// Found by the property tests (tests/parsers.rs): a value that is not UTF-8 was taken as
    /// unset.
    #[test]
    fn a_value_that_is_not_utf8_is_not_taken_as_unset() {
        use std::os::unix::ffi::OsStrExt;
        let raw = OsStr::from_bytes(b"\x00\x80");
        assert_eq!(set_value(Some(raw)).as_deref(), Some("\u{0}\u{FFFD}"));
        let name = "SERVICE_KIT_TEST_NOT_UTF8_PORT";
        unsafe { env::set_var(name, OsStr::from_bytes(b"80\xff")) };
        let err = parse_or::<u16>(name, 1).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
        unsafe { env::remove_var(name) };
        assert_eq!(set_value(Some(OsStr::new(" \t"))), None);
    }

    #[test]
    fn seconds_take_fractions_and_refuse_negatives() {
        let name = "SERVICE_KIT_TEST_SECONDS";
        let default = Duration::from_secs(3);
        unsafe { env::set_var(name, "0.25") };
        assert_eq!(
            seconds_or(name, default).unwrap(),
            Duration::from_millis(250)
        );
        unsafe { env::set_var(name, "-1") };
        assert!(
            seconds_or(name, default)
                .unwrap_err()
                .to_string()
                .contains(name)
        );
        unsafe { env::remove_var(name) };
        assert_eq!(seconds_or(name, default).unwrap(), default);
    }
}
