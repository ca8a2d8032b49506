//! Property tests of the parsers of outside input that service-kit holds: `DATABASE_URL`,
//! `REDIS_URL` as logs show it, and the settings' values. The properties are the fuzz
//! targets' (`fuzz/src/`, docs/fuzzing.md), fed generated inputs here: proptest's default
//! 256 cases per property (`PROPTEST_CASES` raises it), so the suite stays quick.

// They check the PostgreSQL and Redis URLs too. (Not a `[[test]]` with required features in
// Cargo.toml: the image builds leave the tests out, and cargo refuses a declared test it cannot
// find.)
#![cfg(all(feature = "postgres", feature = "redis"))]

#[path = "../../fuzz/src/database_url.rs"]
mod database_url;
#[path = "../../fuzz/src/redis_url.rs"]
mod redis_url;
#[path = "../../fuzz/src/secret.rs"]
mod secret;
#[path = "../../fuzz/src/settings.rs"]
mod settings;
#[path = "../../fuzz/src/text.rs"]
mod text;

use std::{ffi::OsStr, os::unix::ffi::OsStrExt};

use proptest::{prelude::*, test_runner::Config};
use service_kit::{postgres::PostgresConfig, redis_url::for_log};

use database_url::{Form, PasswordPlace, SSL_MODES, UrlParts};
use redis_url::{RedisParts, Server};
use secret::MARKER;

fn config() -> Config {
    Config {
        // A failure is kept as a test with its exact input, not in a file of seeds.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any text, or any text after a prefix the parser reads on (a scheme, a `key=`).
fn text_after(prefixes: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::sample::select(prefixes),
        any::<String>(),
        "[ -~]{0,40}",
    )
        .prop_map(|(prefix, any, ascii)| {
            if any.len() % 2 == 0 {
                format!("{prefix}{any}")
            } else {
                format!("{prefix}{ascii}")
            }
        })
}

/// Text that a part may hold: anything but the password's marker, never empty.
fn part(first: &'static str) -> impl Strategy<Value = String> {
    any::<String>().prop_map(move |text| format!("{first}{}", text.replace(MARKER, "")))
}

fn password() -> impl Strategy<Value = String> {
    (any::<String>(), any::<String>())
        .prop_map(|(before, after)| format!("{before}{MARKER}{after}"))
}

fn database_url_parts() -> impl Strategy<Value = UrlParts> {
    let host = part("h").prop_map(|host| host.replace(',', ""));
    (
        prop_oneof![Just(Form::Url), Just(Form::KeyValue)],
        prop_oneof![Just(PasswordPlace::Main), Just(PasswordPlace::Query)],
        prop::option::of(part("u")),
        password(),
        prop::collection::vec((host, any::<u16>()), 1..3),
        part("d"),
        prop::option::of(prop::sample::select(&SSL_MODES[..])),
    )
        .prop_map(
            |(form, password_place, user, password, hosts, dbname, ssl_mode)| UrlParts {
                form,
                user,
                password,
                password_place,
                hosts,
                dbname,
                ssl_mode,
            },
        )
}

fn redis_parts() -> impl Strategy<Value = RedisParts> {
    let tcp = (
        prop_oneof![
            "[a-z0-9][a-z0-9.-]{0,20}",
            any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string()),
        ],
        any::<u16>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(host, port, tls, insecure)| Server::Tcp {
            host,
            port,
            tls,
            insecure: tls && insecure,
        });
    let unix = part("/").prop_map(|path| Server::Unix {
        path: path.replace('\0', ""),
    });
    (
        prop_oneof![3 => tcp, 1 => unix],
        prop::option::of(part("u")),
        password(),
        any::<i64>(),
    )
        .prop_map(|(server, user, password, db)| RedisParts {
            server,
            user,
            password,
            db,
        })
        .prop_filter("a wildcard address is refused", RedisParts::are_usable)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_database_url_reads_back_from_its_log_form(
        url in text_after(&["", "postgres://", "postgresql://", "host=", "user=u password="]),
    ) {
        if !database_url::may_read_files(&url) {
            database_url::check_any_text(&url);
        }
    }

    #[test]
    fn database_urls_written_from_parts_parse_to_them_and_hide_the_password(
        parts in database_url_parts(),
    ) {
        prop_assert!(parts.are_usable(), "{parts:?}");
        parts.check();
    }

    #[test]
    fn any_redis_url_reads_back_from_its_log_form(
        url in text_after(&["", "redis://", "rediss://", "redis+unix://", "unix://"]),
    ) {
        redis_url::check_any_text(&url);
    }

    #[test]
    fn redis_urls_written_from_parts_parse_to_them_and_hide_the_password(
        parts in redis_parts(),
    ) {
        parts.check();
    }

    #[test]
    fn any_setting_value_is_read_and_parsed_by_the_rules(
        raw in prop_oneof![
            any::<Vec<u8>>(),
            "[ +\\-0-9.eE]{0,12}".prop_map(String::into_bytes),
        ],
    ) {
        settings::check_raw_value(OsStr::from_bytes(&raw));
    }

    #[test]
    fn a_port_or_a_duration_written_as_a_number_is_accepted(
        port in any::<u16>(),
        millis in any::<u32>(),
        spaces in "[ \t]{0,2}",
    ) {
        let port_text = format!("{spaces}{port}{spaces}");
        prop_assert_eq!(service_kit::config::parse_value::<u16>("PORT", &port_text).ok(), Some(port));
        let seconds = format!("{}.{:03}", millis / 1000, millis % 1000);
        prop_assert_eq!(
            service_kit::config::seconds_value("DRAIN_SECONDS", &seconds).ok(),
            Some(std::time::Duration::from_millis(millis.into()))
        );
        settings::check_raw_value(OsStr::new(&port_text));
    }

    #[test]
    fn invalid_database_urls_are_refused_naming_the_variable_and_not_the_password(
        secret in password(),
        fault in prop::sample::select(&[
            "postgres://app:{secret}@db:notaport/votes",
            "postgres://app:{secret}@db/votes?sslmode=sometimes",
            "postgres://db/votes?password={secret}&colour=blue",
            "host=db password='{secret}",
            "host=db sslmode=never password={secret}",
        ][..]),
    ) {
        let secret = text::encoded(&secret);
        let url = fault.replace("{secret}", &secret);
        let err = PostgresConfig::parse(&url, None).map(|_| ()).expect_err(&url).to_string();
        prop_assert!(err.contains("DATABASE_URL"), "{}", err);
        secret::assert_no_password(&err, &url);
    }

    #[test]
    fn invalid_redis_urls_are_not_repeated(
        secret in password(),
        fault in prop::sample::select(&[
            "redis://:{secret}@[bad",
            "http://:{secret}@redis:6379",
            "redis://:{secret}@redis:6379/notadb",
            "redis://:{secret}@0.0.0.0:6379",
            "rediss://:{secret}@redis/0#sometimes",
        ][..]),
    ) {
        let url = fault.replace("{secret}", &text::encoded(&secret));
        prop_assert_eq!(for_log(&url), "(not a valid Redis URL)");
    }
}
