//! SPEC section 1: `sslmode=require` and `rediss://` connect over TLS with rustls and the
//! system's root certificates. The test's own certificate authority stands in for the system's
//! through `SSL_CERT_FILE` (which the native root store honours) given to the worker process
//! only, so nothing is trusted that production would not.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use crate::helpers::{
    PATIENCE, REDIS_URL, TestDatabase, TestQueue, ballot, connect, http, unique_name, wait_until,
};

/// A throwaway folder, owned by the `postgres` user (PostgreSQL refuses to run as root).
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn make() -> Scratch {
        let dir = std::env::temp_dir().join(unique_name("worker-tls"));
        std::fs::create_dir_all(&dir).expect("the temp folder is writable");
        run(
            "chown",
            &["postgres:postgres", &dir.display().to_string()],
            &dir,
        );
        Scratch { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// A CA, and a certificate for localhost signed by it, readable by PostgreSQL.
    fn certificates(&self) {
        std::fs::write(
            self.dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let openssl = |args: &[&str]| run("openssl", args, &self.dir);
        openssl(
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ]
            .into_iter()
            .chain([
                "-subj",
                "/CN=worker test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ])
            .collect::<Vec<_>>(),
        );
        openssl(
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
            ]
            .into_iter()
            .chain(["-keyout", "server.key", "-out", "server.csr"])
            .collect::<Vec<_>>(),
        );
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
            ]
            .into_iter()
            .chain(["-CAcreateserial", "-days", "1", "-extfile", "server.ext"])
            .chain(["-out", "server.pem"])
            .collect::<Vec<_>>(),
        );
        let key = self.dir.join("server.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        run(
            "chown",
            &["postgres:postgres", &key.display().to_string()],
            &self.dir,
        );
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|err| panic!("{program} runs: {err}"));
    assert!(status.success(), "{program} {args:?}");
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A PostgreSQL of the test's own that accepts TLS with the test CA's certificate; stopped with
/// the test.
struct TlsPostgres {
    server: Child,
    port: u16,
}

impl TlsPostgres {
    fn start(scratch: &Scratch) -> TlsPostgres {
        let bin = postgres_bin();
        let data = scratch.path("data");
        let initialized = as_postgres(bin.join("initdb"))
            .args(["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])
            .current_dir(&scratch.dir)
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
                &scratch.path(""),
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
                &format!("ssl_cert_file={}", scratch.path("server.pem")),
            ])
            .args([
                "-c",
                &format!("ssl_key_file={}", scratch.path("server.key")),
            ])
            .current_dir(&scratch.dir)
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
    let scratch = Scratch::make();
    scratch.certificates();
    let postgres = TlsPostgres::start(&scratch);
    let plain_url = format!("postgres://postgres@127.0.0.1:{}/postgres", postgres.port);
    wait_until("the TLS PostgreSQL accepts connections", async || {
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
        REDIS_URL,
        &tls_url,
        &queue.name,
        free_port(),
        Some(&scratch.path("ca.pem")),
    );

    queue.push(&[ballot("tls-1", "a", 1)]).await;

    let database = connect(&plain_url).await;
    wait_until("the vote is stored", async || {
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
    let url = format!("{}?sslmode=require", database.url);
    let mut worker = spawn_worker(REDIS_URL, &url, &queue.name, port, None);

    wait_until("the worker answers", async || {
        http(port, "GET", "/healthz").await.is_ok()
    })
    .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (status, body) = loop {
        let (status, body) = http(port, "GET", "/readyz").await.expect("an answer");
        if body.contains("DATABASE_URL") || tokio::time::Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };

    assert_eq!(status, 503, "{body}");
    assert!(body.contains("DATABASE_URL"), "{body}");
    assert!(worker.try_wait().unwrap().is_none(), "still running");
}

/// A redis-server of the test's own that speaks only TLS, with the test CA's certificate.
struct TlsRedis {
    server: Child,
    port: u16,
}

impl TlsRedis {
    fn start(scratch: &Scratch) -> TlsRedis {
        let port = free_port();
        let server = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args(["--tls-cert-file", &scratch.path("server.pem")])
            .args(["--tls-key-file", &scratch.path("server.key")])
            .args(["--tls-ca-cert-file", &scratch.path("ca.pem")])
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        TlsRedis { server, port }
    }

    /// RPUSH through redis-cli, which trusts the test CA explicitly.
    fn push(&self, scratch: &Scratch, queue: &str, message: &str) -> bool {
        Command::new("redis-cli")
            .args(["--tls", "--cacert", &scratch.path("ca.pem")])
            .args(["-h", "localhost", "-p", &self.port.to_string()])
            .args(["RPUSH", queue, message])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[tokio::test]
async fn rediss_takes_votes_from_a_redis_that_speaks_only_tls() {
    let scratch = Scratch::make();
    scratch.certificates();
    let redis = TlsRedis::start(&scratch);
    let database = TestDatabase::create().await;
    let queue = unique_name("worker_tls");
    wait_until("the TLS Redis takes a vote", async || {
        redis.push(&scratch, &queue, &ballot("rediss-1", "b", 1))
    })
    .await;

    let _worker = spawn_worker(
        &format!("rediss://localhost:{}/0", redis.port),
        &database.url,
        &queue,
        free_port(),
        Some(&scratch.path("ca.pem")),
    );

    wait_until("the vote is stored", async || {
        database.vote_count().await == 1
    })
    .await;
    assert_eq!(database.votes().await["rediss-1"], ("b".to_owned(), 1));
}
