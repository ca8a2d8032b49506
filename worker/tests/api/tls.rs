//! SPEC section 1: `sslmode=require` and `rediss://` connect over TLS with rustls and the
//! system's root certificates. The test's own certificate authority stands in for the system's
//! through `SSL_CERT_FILE` (which the native root store honours) given to the worker process
//! only, so nothing is trusted that production would not.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use test_support::{
    LOCAL_REDIS, OwnRedis, TestAuthority, free_port, unique_name, wait_until_async,
};

use crate::helpers::{TestDatabase, TestQueue, ballot, connect, http};

/// The test CA's certificates, in a folder the `postgres` user owns, with the server key only
/// it may read: PostgreSQL refuses to run as root, and refuses a key others can read.
fn authority_for_postgres() -> TestAuthority {
    let authority = TestAuthority::make();
    let key = authority.dir().join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .expect("the test owns the key it just made");
    give_to_postgres(authority.dir());
    give_to_postgres(&key);
    authority
}

fn give_to_postgres(path: &Path) {
    let (uid, gid) = postgres_user();
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|err| panic!("the test runs as root to chown {}: {err}", path.display()));
}

/// The uid and gid of the `postgres` user, whom the server programs run as.
fn postgres_user() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        String::from_utf8(output.stdout)
            .unwrap()
            .trim()
            .parse()
            .expect("the postgres user exists")
    };
    (id("-u"), id("-g"))
}

/// A command run as the `postgres` user: directly, so that signals reach it.
fn as_postgres(program: PathBuf) -> Command {
    let (uid, gid) = postgres_user();
    let mut command = Command::new(program);
    command.uid(uid).gid(gid);
    command
}

/// The directory of the PostgreSQL server programs (initdb, postgres).
fn postgres_bin() -> PathBuf {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config is installed with PostgreSQL");
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// A PostgreSQL of the test's own that accepts TLS with the test CA's certificate; stopped with
/// the test.
struct TlsPostgres {
    server: Child,
    port: u16,
}

impl TlsPostgres {
    fn start(authority: &TestAuthority) -> TlsPostgres {
        let bin = postgres_bin();
        let data = authority.file("data");
        let initialized = as_postgres(bin.join("initdb"))
            .args(["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .current_dir(authority.dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(initialized.success(), "initdb");
        let port = free_port();
        let server = as_postgres(bin.join("postgres"))
            .args([
                "-D",
                &data,
                "-p",
                &port.to_string(),
                "-k",
                &authority.file(""),
            ])
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "ssl=on",
            ])
            .args([
                "-c",
                &format!("ssl_cert_file={}", authority.file("server.pem")),
            ])
            .args([
                "-c",
                &format!("ssl_key_file={}", authority.file("server.key")),
            ])
            .current_dir(authority.dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        TlsPostgres { server, port }
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown.
        let _ = Command::new("kill")
            .args(["-INT", &self.server.id().to_string()])
            .status();
        let _ = self.server.wait();
    }
}

/// The worker binary, trusting the test CA (as the system's roots would) when `ca` is given.
fn spawn_worker(
    redis_url: &str,
    database_url: &str,
    queue: &str,
    port: u16,
    ca: Option<&str>,
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", database_url)
        .env("VOTE_QUEUE", queue)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    if let Some(ca) = ca {
        command.env("SSL_CERT_FILE", ca);
    }
    command.spawn().expect("the worker binary starts")
}

#[tokio::test]
async fn sslmode_require_stores_votes_over_tls() {
    let authority = authority_for_postgres();
    let postgres = TlsPostgres::start(&authority);
    let plain_url = format!("postgres://postgres@127.0.0.1:{}/postgres", postgres.port);
    wait_until_async("the TLS PostgreSQL accepts connections", async || {
        tokio_postgres::connect(&plain_url, tokio_postgres::NoTls)
            .await
            .is_ok()
    })
    .await;
    let queue = TestQueue::create().await;
    let tls_url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=require",
        postgres.port
    );
    let _worker = spawn_worker(
        LOCAL_REDIS,
        &tls_url,
        &queue.name,
        free_port(),
        Some(&authority.ca_file()),
    );

    queue.push(&[ballot("tls-1", "a", 1)]).await;

    let database = connect(&plain_url).await;
    wait_until_async("the vote is stored", async || {
        database
            .query_one("SELECT count(*) FROM votes WHERE id = 'tls-1'", &[])
            .await
            .is_ok_and(|row| row.get::<_, i64>(0) == 1)
    })
    .await;
    let over_tls: bool = database
        .query_one(
            "SELECT coalesce(bool_or(ssl), false) FROM pg_stat_ssl WHERE pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(over_tls, "the worker's connections use TLS");
}

#[tokio::test]
async fn a_postgres_certificate_the_system_does_not_trust_is_refused() {
    // The machine's PostgreSQL offers TLS with a self-signed certificate no root vouches for.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let port = free_port();
    let url = format!("{}?sslmode=require", database.url());
    let mut worker = spawn_worker(LOCAL_REDIS, &url, &queue.name, port, None);

    wait_until_async("the worker answers", async || {
        http(port, "GET", "/healthz").await.is_ok()
    })
    .await;
    // The last answer is the one asserted on, whichever way the wait ends.
    let mut readiness = (0, String::new());
    wait_until_async("the worker blames DATABASE_URL", async || {
        readiness = http(port, "GET", "/readyz").await.expect("an answer");
        readiness.1.contains("DATABASE_URL")
    })
    .await;
    let (status, body) = readiness;

    assert_eq!(status, 503, "{body}");
    assert!(body.contains("DATABASE_URL"), "{body}");
    assert!(worker.try_wait().unwrap().is_none(), "still running");
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
        free_port(),
        Some(&authority.ca_file()),
    );

    wait_until_async("the vote is stored", async || {
        database.vote_count().await == 1
    })
    .await;
    assert_eq!(database.votes().await["rediss-1"], ("b".to_owned(), 1));
}
