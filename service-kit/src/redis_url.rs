//! `REDIS_URL` in a form fit for a log line or an error message.

use redis::{ConnectionAddr, IntoConnectionInfo};

/// `url` rebuilt from what redis-rs parses of it, the password, if any, shown as `***`. A URL
/// that does not parse is not repeated at all: it may hold a password in a place only the
/// parser would have found.
pub fn for_log(url: &str) -> String {
    let Ok(info) = url.into_connection_info() else {
        return "(not a valid Redis URL)".to_owned();
    };
    let settings = info.redis_settings();
    let user_info = match (settings.username(), settings.password()) {
        (None, None) => String::new(),
        (user, None) => format!("{}@", user.unwrap_or_default()),
        (user, Some(_)) => format!("{}:***@", user.unwrap_or_default()),
    };
    let db = settings.db();
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("redis://{user_info}{host}:{port}/{db}"),
        ConnectionAddr::TcpTls {
            host,
            port,
            insecure,
            ..
        } => {
            let insecure = if *insecure { "#insecure" } else { "" };
            format!("rediss://{user_info}{host}:{port}/{db}{insecure}")
        }
        ConnectionAddr::Unix(path) => format!("unix://{user_info}{}?db={db}", path.display()),
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
                "unix://:***@/run/redis.sock?db=0",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(for_log(url), shown, "{url}");
        }
        assert_eq!(for_log("redis://:s3cret@[bad"), "(not a valid Redis URL)");
    }
}
