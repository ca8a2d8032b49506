//! `REDIS_URL` in a form fit for a log line or an error message.

use std::os::unix::ffi::OsStrExt;

use redis::{ConnectionAddr, IntoConnectionInfo};

use crate::url_encoding::encoded;

/// `url` rebuilt from what redis-rs parses of it, the password, if any, shown as `***`, and
/// written so that it reads back as the same server, database and user (an IPv6 address in
/// brackets, the user name and a socket path percent-encoded). A URL that does not parse is
/// not repeated at all: it may hold a password in a place only the parser would have found.
pub fn for_log(url: &str) -> String {
    let Ok(info) = url.into_connection_info() else {
        return "(not a valid Redis URL)".to_owned();
    };
    let settings = info.redis_settings();
    let user = settings
        .username()
        .map(|user| encoded(user.as_bytes(), b""));
    let has_password = settings.password().is_some();
    let user_info = match (&user, has_password) {
        (None, false) => String::new(),
        (user, false) => format!("{}@", user.as_deref().unwrap_or_default()),
        (user, true) => format!("{}:***@", user.as_deref().unwrap_or_default()),
    };
    let db = settings.db();
    // redis-rs gives an IPv6 address without the brackets a URL needs around it.
    let bracketed = |host: &str| {
        if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        }
    };
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            format!("redis://{user_info}{}:{port}/{db}", bracketed(host))
        }
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure,
            ..
        } => {
            let insecure = if *insecure { "#insecure" } else { "" };
            format!(
                "rediss://{user_info}{}:{port}/{db}{insecure}",
                bracketed(host)
            )
        }
        // A socket's URL carries the user and the password in its query.
        ConnectionAddr::Unix(path) => {
            let path = encoded(path.as_os_str().as_bytes(), b"/");
            let user = user.map(|user| format!("&user={user}")).unwrap_or_default();
            let password = if has_password { "&pass=***" } else { "" };
            format!("redis+unix://{path}?db={db}{user}{password}")
        }
        // The enum is non-exhaustive: a new kind of address is shown without its details.
        _ => format!("(a Redis address, database {db})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_in_every_form() {
        let cases = [
            ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
            ("redis://app:s3cret@redis/2", "redis://app:***@redis:6379/2"),
            (
                "rediss://app:s3cret@cache.example:6380",
                "rediss://app:***@cache.example:6380/0",
            ),
            ("redis://redis:6379/0", "redis://redis:6379/0"),
            (
                "redis+unix:///run/redis.sock?pass=s3cret",
                "redis+unix:///run/redis.sock?db=0&pass=***",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(for_log(url), shown, "{url}");
        }
        assert_eq!(for_log("redis://:s3cret@[bad"), "(not a valid Redis URL)");
    }

    /// Found by the property tests (service-kit/tests/parsers.rs): an IPv6 address lost its
    /// brackets, a user name its encoding, and a socket's URL its user.
    #[test]
    fn the_log_form_reads_back_as_the_same_server_and_user() {
        let cases = [
            (
                "redis://:s3cret@[::ffff:0.0.0.0]:0/0",
                "redis://:***@[::ffff:0.0.0.0]:0/0",
            ),
            (
                "rediss://[::1]/3#insecure",
                "rediss://[::1]:6379/3#insecure",
            ),
            (
                "redis://a%40b%3Ac:s3cret@redis/1",
                "redis://a%40b%3Ac:***@redis:6379/1",
            ),
            (
                "redis+unix:///run/my%20redis.sock?db=2&user=app&pass=s3cret",
                "redis+unix:///run/my%20redis.sock?db=2&user=app&pass=***",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(for_log(url), shown, "{url}");
            assert_eq!(for_log(shown), shown, "{url}");
        }
    }
}
