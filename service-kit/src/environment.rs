//! The environment variables a program reads, from its own machine-readable list
//! (`<program>/environment.json`: name, default, meaning). The list is where each default
//! lives, the configuration code reads through it, and a test holds the two together, so the
//! Kubernetes manifests' checks can trust it to say which variables a program understands.

use std::{collections::BTreeSet, fmt::Display, str::FromStr, sync::Mutex, time::Duration};

use serde::Deserialize;

use crate::config::{self, ConfigError};

/// What service-kit itself reads for every program (logging, the version, the instance's
/// name); each program's list names them too.
pub const SHARED: [&str; 5] = [
    "RUST_LOG",
    "LOG_FORMAT",
    "APP_VERSION",
    "POD_NAME",
    "HOSTNAME",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Variable {
    name: String,
    /// `None` where the default is computed (the crate version, the host name, ...).
    default: Option<String>,
    #[expect(
        dead_code,
        reason = "read by people and by the manifests' checks, not here"
    )]
    meaning: String,
}

/// A program's list, and which of its variables the configuration code has asked for.
#[derive(Debug)]
pub struct Environment {
    variables: Vec<Variable>,
    asked: Mutex<BTreeSet<&'static str>>,
}

impl Environment {
    /// `list` is the program's `environment.json`, compiled in with `include_str!`.
    pub fn new(list: &str) -> Environment {
        Environment {
            variables: serde_json::from_str(list)
                .expect("a program's environment.json is a valid list; its tests parse it"),
            asked: Mutex::new(BTreeSet::new()),
        }
    }

    /// Every name the list holds.
    pub fn names(&self) -> BTreeSet<&str> {
        self.variables.iter().map(|var| var.name.as_str()).collect()
    }

    /// The names the configuration code has read so far.
    pub fn asked(&self) -> BTreeSet<&'static str> {
        self.asked
            .lock()
            .expect("no reader panics while holding the lock")
            .clone()
    }

    fn listed(&self, name: &'static str) -> &Variable {
        self.asked
            .lock()
            .expect("no reader panics while holding the lock")
            .insert(name);
        self.variables
            .iter()
            .find(|var| var.name == name)
            .unwrap_or_else(|| panic!("{name} is read but missing from environment.json"))
    }

    /// The value of `name`, `None` when it is unset or empty (an empty value in a compose file
    /// or a manifest means "not configured", never "the empty string") and the list gives no
    /// default.
    pub fn get(&self, name: &'static str) -> Option<String> {
        let variable = self.listed(name);
        config::value_of(name).or_else(|| variable.default.clone())
    }

    /// The value of `name` or its listed default.
    pub fn text(&self, name: &'static str) -> String {
        self.get(name)
            .unwrap_or_else(|| panic!("{name} has a default in environment.json"))
    }

    /// `name` (or its listed default) parsed as a `T`; the error names the variable.
    pub fn parse<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        config::parse_value(name, &self.text(name))
    }

    /// `name` as a non-negative number of seconds (fractions allowed, so tests can say `0.2`).
    pub fn seconds(&self, name: &'static str) -> Result<Duration, ConfigError> {
        config::seconds_value(name, &self.text(name))
    }

    /// For a program's test: the list names exactly what the configuration code read (after
    /// a `from_environment`) plus what service-kit reads for every program.
    pub fn assert_list_is_complete(&self) {
        let mut read: BTreeSet<&str> = self.asked().into_iter().collect();
        read.extend(SHARED);
        assert_eq!(
            self.names(),
            read,
            "environment.json and the variables the program reads differ"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::env;

    use super::*;

    const LIST: &str = r#"[
        {"name": "SERVICE_KIT_TEST_ENV_PORT", "default": "8080", "meaning": "a port"},
        {"name": "SERVICE_KIT_TEST_ENV_NAME", "default": null, "meaning": "computed"}
    ]"#;

    #[test]
    fn defaults_come_from_the_list_and_errors_name_the_variable() {
        let environment = Environment::new(LIST);
        let port: u16 = environment.parse("SERVICE_KIT_TEST_ENV_PORT").unwrap();
        assert_eq!(port, 8080);
        assert_eq!(environment.get("SERVICE_KIT_TEST_ENV_NAME"), None);
        // SAFETY of the test: the variable name is unique to this test.
        unsafe { env::set_var("SERVICE_KIT_TEST_ENV_PORT", "eighty") };
        let err = environment
            .parse::<u16>("SERVICE_KIT_TEST_ENV_PORT")
            .unwrap_err();
        assert!(
            err.to_string().contains("SERVICE_KIT_TEST_ENV_PORT"),
            "{err}"
        );
        unsafe { env::remove_var("SERVICE_KIT_TEST_ENV_PORT") };
        assert_eq!(
            environment.asked(),
            BTreeSet::from(["SERVICE_KIT_TEST_ENV_PORT", "SERVICE_KIT_TEST_ENV_NAME"])
        );
    }

    #[test]
    #[should_panic(expected = "missing from environment.json")]
    fn reading_an_unlisted_variable_is_caught() {
        Environment::new(LIST).get("SERVICE_KIT_TEST_ENV_UNLISTED");
    }
}
