//! SPEC section 1: no password in any log line or error, in whatever form `REDIS_URL` carries
//! it.

use std::process::Stdio;

use test_support::{SECRET, assert_configuration_error, assert_password_never_logged, free_port};

/// The vote binary with this `REDIS_URL`, its JSON log on a piped stdout and its errors on a
/// piped stderr.
fn spawn_vote(redis_url: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_vote"))
        .env("PORT", "0")
        .env("REDIS_URL", redis_url)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the vote binary starts")
}

#[tokio::test]
async fn no_form_of_password_is_logged() {
    // Nothing listens there, so the service also logs that it cannot reach Redis.
    for url in [
        format!("redis://:{SECRET}@127.0.0.1:{}/0", free_port()),
        format!("redis://voter:{SECRET}@127.0.0.1:{}/0", free_port()),
    ] {
        assert_password_never_logged(&mut spawn_vote(&url), "REDIS_URL").await;
    }
}

#[tokio::test]
async fn a_refused_redis_url_is_not_repeated() {
    for url in [
        format!("redis://:{SECRET}@[not-an-address/0"),
        format!("redis://:{SECRET}@redis:port/0"),
    ] {
        assert_configuration_error(spawn_vote(&url), "REDIS_URL").await;
    }
}
