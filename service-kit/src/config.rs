//! Settings come from environment variables, each with a default (SPEC section 1).

use std::{env, fmt::Display, str::FromStr, time::Duration};

/// A variable is set to something the program cannot use. The message names the variable so
/// that an operator knows what to change.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

/// The value of `name`, or `default` when it is unset or empty (an empty value in a compose
/// file or a manifest means "not configured", never "the empty string").
pub fn var_or(name: &'static str, default: &str) -> String {
    match env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => default.to_owned(),
    }
}

/// `name` parsed as a `T`, or `default` when it is unset or empty.
pub fn parse_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|err: T::Err| ConfigError {
                name,
                value,
                reason: err.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// `name` as a non-negative number of seconds (fractions allowed, so tests can say `0.2`), or
/// `default` when it is unset or empty.
pub fn seconds_or(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let seconds: f64 = parse_or(name, default.as_secs_f64())?;
    Duration::try_from_secs_f64(seconds).map_err(|err| ConfigError {
        name,
        value: seconds.to_string(),
        reason: err.to_string(),
    })
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

/// A URL fit for a log line: the password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user info ends at the last '@' before the first '/' of the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user_info = &rest[..at];
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(
            redact_url("postgres://postgres:s3cret@db:5432/postgres"),
            "postgres://postgres:***@db:5432/postgres"
        );
        assert_eq!(
            redact_url("redis://:pw@redis:6379/0"),
            "redis://:***@redis:6379/0"
        );
        assert_eq!(redact_url("redis://redis:6379/0"), "redis://redis:6379/0");
        assert_eq!(
            redact_url("postgres://user@db/x?sslmode=require"),
            "postgres://user@db/x?sslmode=require"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

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
