//! SPEC section 1: libpq's `sslmode` for PostgreSQL, and `rediss://` with rustls and the
//! system's root certificates. The test's own certificate authority is unknown to the system's
//! roots; it is trusted through `sslrootcert`, or for Redis through `SSL_CERT_FILE` (which the
//! native root store honours) given to the worker process only, so nothing is trusted that
//! production would not.

use std::process::{Command, Stdio};

use test_support::{
    LOCAL_REDIS, OwnRedis, TestAuthority, free_port, unique_name, wait_until_async,
};

use crate::helpers::{TestDatabase, TestQueue, ballot};

/// The worker binary with the variables in `env` besides these, its JSON log on a piped
/// stdout and its errors on a piped stderr.
pub fn spawn_worker(
    redis_url: &str,
    database_url: &str,
    queue: &str,
    env: &[(&str, &str)],
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", database_url)
        .env("VOTE_QUEUE", queue)
        .env("PORT", free_port().to_string())
        .env("LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command.spawn().expect("the worker binary starts")
}

#[tokio::test]
async fn every_sslmode_behaves_as_libpqs() {
    let queue = TestQueue::create().await;
    test_support::check_every_sslmode(|url| spawn_worker(LOCAL_REDIS, url, &queue.name, &[])).await;
}

/// RPUSH to the test's TLS Redis through redis-cli, which trusts the test CA explicitly.
fn push_over_tls(redis: &OwnRedis, authority: &TestAuthority, queue: &str, message: &str) -> bool {
    Command::new("redis-cli")
        .args(["--tls", "--cacert", &authority.ca_file()])
        .args(["-h", "localhost", "-p", &redis.port().to_string()])
        .args(["RPUSH", queue, message])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[tokio::test]
async fn rediss_takes_votes_from_a_redis_that_speaks_only_tls() {
    let authority = TestAuthority::make();
    let redis = OwnRedis::start_tls(&authority);
    let database = TestDatabase::create().await;
    let queue = unique_name("worker_tls");
    wait_until_async("the TLS Redis takes a vote", async || {
        push_over_tls(&redis, &authority, &queue, &ballot("rediss-1", "b", 1))
    })
    .await;

    let _worker = spawn_worker(
        &redis.url(),
        &database.url(),
        &queue,
        // Trusting the test CA as the system's roots would.
        &[("SSL_CERT_FILE", &authority.ca_file())],
    );

    wait_until_async("the vote is stored", async || {
        database.vote_count().await == 1
    })
    .await;
    assert_eq!(database.votes().await["rediss-1"], ("b".to_owned(), 1));
}
