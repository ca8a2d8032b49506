//! `DATABASE_URL` (service-kit's `PostgresConfig`): what its parser must do with any input.
//!
//! - Any text: what parses has a log form that reads back as the same settings (user, hosts,
//!   ports, database, sslmode, sslrootcert, hostaddr), with a password only ever as `***`.
//! - A URL written from known parts ([`UrlParts`]), properly encoded in either of libpq's
//!   forms: it parses, to exactly those parts.
//! - The same parts written carelessly, the password unencoded as people paste it: whatever
//!   comes of it, neither the log form nor an error message shows the password.
//!
//! The fuzz target `database_url` and service-kit's property tests (`tests/parsers.rs`) both
//! check these.

use service_kit::postgres::{PostgresConfig, SslMode};
use tokio_postgres::config::Host;

use crate::{
    secret::{MARKER, assert_no_password},
    text::encoded as url_encoded,
};

/// What a parse kept that the log form must show, compared between a URL and its log form.
#[derive(Debug, PartialEq)]
struct Shown<'a> {
    user: Option<&'a str>,
    /// Each host with the port it is reached on.
    hosts: Vec<(&'a Host, u16)>,
    dbname: Option<&'a str>,
    hostaddrs: Vec<std::net::IpAddr>,
    ssl_mode: SslMode,
    root_certificate_file: Option<&'a std::path::Path>,
}

impl<'a> Shown<'a> {
    fn of(config: &'a PostgresConfig) -> Shown<'a> {
        let settings = config.settings();
        let ports = settings.get_ports();
        Shown {
            user: settings.get_user(),
            hosts: settings
                .get_hosts()
                .iter()
                .enumerate()
                // tokio-postgres's rule: one port for all hosts, or one per host.
                .map(|(i, host)| (host, *ports.get(i).or(ports.first()).unwrap_or(&5432)))
                .collect(),
            // An empty name is no name: the server takes the user's.
            dbname: settings.get_dbname().filter(|name| !name.is_empty()),
            hostaddrs: settings.get_hostaddrs().to_vec(),
            ssl_mode: config.ssl_mode(),
            root_certificate_file: config.root_certificate_file(),
        }
    }
}

/// Any text as `DATABASE_URL`. Returns the parsed settings, if it parsed.
pub fn check_any_text(url: &str) -> Option<PostgresConfig> {
    let config = PostgresConfig::parse(url, None).ok()?;
    let shown = config.to_string();
    let again = PostgresConfig::parse(&shown, None)
        .unwrap_or_else(|err| panic!("the log form {shown:?} of {url:?} does not parse: {err}"));
    assert_eq!(
        Shown::of(&again),
        Shown::of(&config),
        "the log form {shown:?} of {url:?} reads back as other settings"
    );
    let password = again.settings().get_password();
    assert!(
        password.is_none() || password == Some(b"***".as_slice()),
        "the log form {shown:?} of {url:?} holds a password other than ***"
    );
    assert_eq!(
        again.to_string(),
        shown,
        "the log form of {url:?} is not stable"
    );
    Some(config)
}

/// The two ways libpq reads a connection string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Url,
    KeyValue,
}

/// How the password is written into the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPlace {
    /// `postgres://user:password@…` in the URL form; `password=…` in the key/value form.
    Main,
    /// `?password=…` in the URL form (the key/value form has only one place).
    Query,
}

/// The parts of a connection string, each any text the part can hold.
#[derive(Debug, Clone)]
pub struct UrlParts {
    pub form: Form,
    /// `None`: no user named (in the URL form with the password in its query, no user info).
    pub user: Option<String>,
    /// Holds [`MARKER`] somewhere; [`UrlParts::are_usable`] is false where it does not.
    pub password: String,
    pub password_place: PasswordPlace,
    /// Host names (not paths), each with its port.
    pub hosts: Vec<(String, u16)>,
    pub dbname: String,
    /// `None`: no `sslmode`, which is `prefer`.
    pub ssl_mode: Option<&'static str>,
}

/// The `sslmode` values that need no certificates to parse: every one but the verifying modes.
pub const SSL_MODES: [&str; 4] = ["disable", "allow", "prefer", "require"];

impl UrlParts {
    /// Whether the parts are ones this module knows the meaning of: a password that holds the
    /// marker, which no other part does; a user name, if any, that is not empty; at least one
    /// host and a database; host names that are neither empty nor paths nor lists.
    pub fn are_usable(&self) -> bool {
        let others = [self.user.as_deref().unwrap_or_default(), &self.dbname]
            .into_iter()
            .chain(self.hosts.iter().map(|(host, _)| host.as_str()));
        self.password.contains(MARKER)
            && self.user.as_ref().is_none_or(|user| !user.is_empty())
            && !self.dbname.is_empty()
            && !self.hosts.is_empty()
            && self
                .hosts
                .iter()
                .all(|(host, _)| !host.is_empty() && !host.starts_with('/') && !host.contains(','))
            && others.into_iter().all(|part| !part.contains(MARKER))
    }

    /// The connection string, every part encoded as its form needs.
    pub fn written(&self) -> String {
        self.write(false)
    }

    /// The connection string with the password as a person pastes it: not encoded, without
    /// only the few characters that would end it in its place (the `@` and `/` of
    /// `user:password@`, the `&` of a query parameter, the quote and escapes of a key/value).
    pub fn written_carelessly(&self) -> String {
        self.write(true)
    }

    fn write(&self, careless: bool) -> String {
        let password = match (self.form, self.password_place, careless) {
            (Form::Url, _, false) => url_encoded(&self.password),
            (Form::KeyValue, _, false) => quoted(&self.password),
            (Form::Url, PasswordPlace::Main, true) => self.password.replace(['@', '/'], ""),
            (Form::Url, PasswordPlace::Query, true) => self.password.replace('&', ""),
            (Form::KeyValue, _, true) => self.password.trim_start_matches('\'').replace('\\', ""),
        };
        let ssl_mode = self.ssl_mode;
        match self.form {
            Form::Url => {
                let hosts: Vec<String> = self
                    .hosts
                    .iter()
                    .map(|(host, port)| format!("{}:{port}", url_encoded(host)))
                    .collect();
                let user = self.user.as_deref().map(url_encoded);
                let mut params = Vec::new();
                let user_info = match (self.password_place, user) {
                    (PasswordPlace::Main, user) => {
                        format!("{}:{password}@", user.unwrap_or_default())
                    }
                    (PasswordPlace::Query, user) => {
                        params.push(format!("password={password}"));
                        user.map(|user| format!("{user}@")).unwrap_or_default()
                    }
                };
                params.extend(ssl_mode.map(|mode| format!("sslmode={mode}")));
                let query = if params.is_empty() {
                    String::new()
                } else {
                    format!("?{}", params.join("&"))
                };
                format!(
                    "postgres://{user_info}{}/{}{query}",
                    hosts.join(","),
                    url_encoded(&self.dbname)
                )
            }
            Form::KeyValue => {
                let hosts: Vec<&str> = self.hosts.iter().map(|(host, _)| host.as_str()).collect();
                let ports: Vec<String> = self
                    .hosts
                    .iter()
                    .map(|(_, port)| port.to_string())
                    .collect();
                let user = self
                    .user
                    .as_deref()
                    .map(|user| format!("user={} ", quoted(user)))
                    .unwrap_or_default();
                let mut text = format!(
                    "{user}password={password} host={} port={} dbname={}",
                    quoted(&hosts.join(",")),
                    ports.join(","),
                    quoted(&self.dbname)
                );
                if let Some(mode) = ssl_mode {
                    text.push_str(&format!(" sslmode={mode}"));
                }
                text
            }
        }
    }

    /// The parts written properly parse to exactly these parts; written either way, neither
    /// the log form nor an error shows the password. Only for [usable](UrlParts::are_usable)
    /// parts.
    pub fn check(&self) {
        assert!(self.are_usable(), "{self:?} are not usable parts");
        let url = self.written();
        let config = PostgresConfig::parse(&url, None)
            .unwrap_or_else(|err| panic!("{url:?} from {self:?} does not parse: {err}"));
        let settings = config.settings();
        // `postgres://:password@…` names the empty user.
        let user = match (self.form, self.password_place) {
            (Form::Url, PasswordPlace::Main) => Some(self.user.as_deref().unwrap_or_default()),
            _ => self.user.as_deref(),
        };
        assert_eq!(settings.get_user(), user, "{url:?}");
        assert_eq!(
            settings.get_password(),
            Some(self.password.as_bytes()),
            "{url:?}"
        );
        assert_eq!(settings.get_dbname(), Some(self.dbname.as_str()), "{url:?}");
        let expected_hosts: Vec<(Host, u16)> = self
            .hosts
            .iter()
            .map(|(host, port)| (Host::Tcp(host.clone()), *port))
            .collect();
        let hosts: Vec<(Host, u16)> = Shown::of(&config)
            .hosts
            .into_iter()
            .map(|(host, port)| (host.clone(), port))
            .collect();
        assert_eq!(hosts, expected_hosts, "{url:?}");
        let expected_mode = match self.ssl_mode {
            None | Some("allow" | "prefer") => SslMode::Prefer,
            Some("disable") => SslMode::Disable,
            Some("require") => SslMode::Require,
            Some(other) => panic!("sslmode {other} is not one of SSL_MODES"),
        };
        assert_eq!(config.ssl_mode(), expected_mode, "{url:?}");
        check_any_text(&url);
        assert_no_password(&config.to_string(), &url);

        let careless = self.written_carelessly();
        if may_read_files(&careless) {
            return;
        }
        // An unquoted key/value password with a space in it is words, which may well set other
        // settings (`password=a user=b`: any reader takes user b); only errors must then keep
        // quiet about them.
        let may_set_others =
            self.form == Form::KeyValue && self.password.chars().any(char::is_whitespace);
        match PostgresConfig::parse(&careless, None) {
            Ok(config) if !may_set_others => assert_no_password(&config.to_string(), &careless),
            Ok(_) => {}
            Err(err) => assert_no_password(&err.to_string(), &careless),
        }
        check_any_text(&careless);
    }
}

/// A key/value value in single quotes, with `'` and `\` escaped.
fn quoted(text: &str) -> String {
    let mut quoted = String::from("'");
    for c in text.chars() {
        if c == '\'' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// Whether a text may make the parser read a file: a root certificate file (which could be
/// endless, like `/dev/zero`) with a verifying mode. The fuzz target leaves those to the unit
/// tests. Generous on purpose: escapes and percent-encoding are undone before looking.
pub fn may_read_files(url: &str) -> bool {
    let plain: String = url.replace('\\', "");
    let decoded = percent_encoding::percent_decode(plain.as_bytes())
        .decode_utf8_lossy()
        .to_lowercase();
    decoded.contains("sslrootcert")
}
