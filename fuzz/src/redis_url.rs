//! `REDIS_URL` as logs show it (service-kit's `redis_url::for_log`): what it must do with any
//! input.
//!
//! - Any text: the log form of a URL that redis-rs parses reads back as the same server
//!   (host, port, TLS, socket path), database and user, with a password only ever as `***`;
//!   a URL that does not parse is not repeated at all.
//! - A URL written from known parts ([`RedisParts`]), properly encoded: redis-rs reads exactly
//!   those parts, and the log form does not show the password; written carelessly (the
//!   password not encoded), the log form does not show it either.
//!
//! The fuzz target `redis_url` and service-kit's property tests (`tests/parsers.rs`) both check
//! these.

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use service_kit::redis_url::for_log;

use crate::{
    secret::{MARKER, assert_no_password},
    text::encoded,
};

/// What the log form must show of a parsed URL.
#[derive(Debug, PartialEq)]
struct Shown {
    addr: String,
    db: i64,
    username: Option<String>,
}

impl Shown {
    fn of(info: &ConnectionInfo) -> Shown {
        let settings = info.redis_settings();
        Shown {
            // TLS parameters (none from a URL) aside, the address's Debug form is all of it.
            addr: match info.addr() {
                ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure,
                    ..
                } => format!("tls {host} {port} {insecure}"),
                other => format!("{other:?}"),
            },
            db: settings.db(),
            username: settings.username().map(str::to_owned),
        }
    }
}

/// Any text as `REDIS_URL`.
pub fn check_any_text(url: &str) {
    let shown = for_log(url);
    let Ok(info) = url.into_connection_info() else {
        assert_eq!(shown, "(not a valid Redis URL)", "{url:?}");
        return;
    };
    let again = shown
        .as_str()
        .into_connection_info()
        .unwrap_or_else(|err| panic!("the log form {shown:?} of {url:?} does not parse: {err}"));
    assert_eq!(
        Shown::of(&again),
        Shown::of(&info),
        "the log form {shown:?} of {url:?} reads back as another server"
    );
    let password = again.redis_settings().password();
    assert!(
        password.is_none() || password == Some("***"),
        "the log form {shown:?} of {url:?} holds a password other than ***"
    );
    assert_eq!(
        password.is_some(),
        info.redis_settings().password().is_some(),
        "the log form {shown:?} of {url:?} hides whether there is a password"
    );
    assert_eq!(
        for_log(&shown),
        shown,
        "the log form of {url:?} is not stable"
    );
}

/// Where the server is.
#[derive(Debug, Clone)]
pub enum Server {
    /// `redis://` or, with TLS, `rediss://` (`insecure`: `#insecure`, no certificate check).
    Tcp {
        host: String,
        port: u16,
        tls: bool,
        insecure: bool,
    },
    /// `redis+unix://` with the socket's path, which is absolute.
    Unix { path: String },
}

/// The parts of a Redis URL.
#[derive(Debug, Clone)]
pub struct RedisParts {
    pub server: Server,
    /// `None`: no user name (the password alone, `redis://:password@host`).
    pub user: Option<String>,
    /// Holds [`MARKER`]; [`RedisParts::are_usable`] is false where it does not.
    pub password: String,
    pub db: i64,
}

impl RedisParts {
    /// Whether the parts are ones this module knows the meaning of: the marker in the
    /// password and nowhere else, a host name of letters, digits, dots and dashes (or an IP
    /// address) that is not a wildcard, an absolute socket path without `.` or `..` in it
    /// nor a drive letter (`c:`) at its end.
    pub fn are_usable(&self) -> bool {
        let server_ok = match &self.server {
            Server::Tcp {
                host,
                tls,
                insecure,
                ..
            } => {
                let name = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                let ip = host.parse::<std::net::IpAddr>();
                let wildcard = ip.as_ref().is_ok_and(|ip| ip.is_unspecified());
                let ip = ip.is_ok() && !wildcard;
                (name || ip) && !wildcard && (*tls || !*insecure) && !host.contains(MARKER)
            }
            // A URL's path drops `.` and `..` segments.
            Server::Unix { path } => {
                path.starts_with('/')
                    && !path.contains(MARKER)
                    && !path.contains('\0')
                    && path
                        .split('/')
                        .all(|segment| segment != "." && segment != "..")
                    // The URL parser takes a path that ends in a letter and `:` or `|` for a
                    // Windows drive, and adds a `/`.
                    && !matches!(path.as_bytes(), [.., letter, b':' | b'|'] if letter.is_ascii_alphabetic())
            }
        };
        let user_ok = self
            .user
            .as_ref()
            .is_none_or(|user| !user.is_empty() && !user.contains(MARKER));
        server_ok && user_ok && self.password.contains(MARKER)
    }

    /// The URL, every part percent-encoded.
    pub fn written(&self) -> String {
        self.write(&encoded(&self.password))
    }

    /// The URL with the password not encoded, without the characters that end it in its
    /// place (`/`, `?` and `#` after `user:`, `&` and `#` in a query).
    pub fn written_carelessly(&self) -> String {
        let password = match self.server {
            Server::Tcp { .. } => self.password.replace(['/', '?', '#'], ""),
            Server::Unix { .. } => self.password.replace(['&', '#'], ""),
        };
        self.write(&password)
    }

    fn write(&self, password: &str) -> String {
        let user = self.user.as_deref().map(encoded).unwrap_or_default();
        match &self.server {
            Server::Tcp {
                host,
                port,
                tls,
                insecure,
            } => {
                let scheme = if *tls { "rediss" } else { "redis" };
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.clone()
                };
                let fragment = if *insecure { "#insecure" } else { "" };
                format!(
                    "{scheme}://{user}:{password}@{host}:{port}/{}{fragment}",
                    self.db
                )
            }
            Server::Unix { path } => {
                let path: Vec<String> = path.split('/').map(encoded).collect();
                let user = self
                    .user
                    .as_ref()
                    .map(|_| format!("&user={user}"))
                    .unwrap_or_default();
                format!(
                    "redis+unix://{}?db={}{user}&pass={password}",
                    path.join("/"),
                    self.db
                )
            }
        }
    }

    /// Written properly, redis-rs reads exactly these parts; written either way, the log form
    /// does not show the password. Only for [usable](RedisParts::are_usable) parts.
    pub fn check(&self) {
        assert!(self.are_usable(), "{self:?} are not usable parts");
        let url = self.written();
        let info = url
            .as_str()
            .into_connection_info()
            .unwrap_or_else(|err| panic!("{url:?} from {self:?} does not parse: {err}"));
        let settings = info.redis_settings();
        assert_eq!(settings.username(), self.user.as_deref(), "{url:?}");
        assert_eq!(settings.password(), Some(self.password.as_str()), "{url:?}");
        assert_eq!(settings.db(), self.db, "{url:?}");
        match (&self.server, info.addr()) {
            (
                Server::Tcp {
                    host,
                    port,
                    tls: false,
                    ..
                },
                ConnectionAddr::Tcp(parsed_host, parsed_port),
            ) => assert_eq!((parsed_host, parsed_port), (host, port), "{url:?}"),
            (
                Server::Tcp {
                    host,
                    port,
                    tls: true,
                    insecure,
                },
                ConnectionAddr::TcpTls {
                    host: parsed_host,
                    port: parsed_port,
                    insecure: parsed_insecure,
                    ..
                },
            ) => assert_eq!(
                (parsed_host, parsed_port, parsed_insecure),
                (host, port, insecure),
                "{url:?}"
            ),
            (Server::Unix { path }, ConnectionAddr::Unix(parsed)) => {
                assert_eq!(parsed.to_str(), Some(path.as_str()), "{url:?}")
            }
            (_, other) => panic!("{url:?} is read as {other:?}"),
        }
        check_any_text(&url);
        for url in [url, self.written_carelessly()] {
            assert_no_password(&for_log(&url), &url);
        }
    }
}
