//! What the black-box tests of every program share (a dev-dependency only).
//!
//! Tests talk to the machine's real Redis and PostgreSQL and isolate themselves: each has its
//! own database ([`TestDatabase`]) and its own queue name ([`unique_name`], removed by [`QueueCleanup`]), and a test that
//! must stop or freeze Redis runs one of its own ([`OwnRedis`]).

pub mod metrics;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The machine's Redis, which every test shares (each with its own keys).
pub const LOCAL_REDIS: &str = "redis://127.0.0.1:6379/0";

/// The machine's PostgreSQL server, with trust authentication for `postgres`.
pub const POSTGRES_ADDRESS: &str = "127.0.0.1:5432";

/// A database that always exists, to create and drop the tests' own from.
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long a test waits for something that normally takes well under a second: generous,
/// because CI shares two cores with the whole build. Only SPEC's own limits are asserted as
/// times.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often a waiting test looks again.
const POLL: Duration = Duration::from_millis(50);

/// `prefix_` and 48 random bits in hex: a name no other test (or test run) uses, valid as a
/// PostgreSQL identifier and inside a Redis key.
pub fn unique_name(prefix: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    let suffix: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{prefix}_{suffix}")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("the loopback has free ports")
        .port()
}

/// Polls `condition` until it holds; fails the test, naming `what`, after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(POLL);
    }
}

/// [`wait_until`] for conditions that await, without blocking the test's runtime.
pub async fn wait_until_async(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// A database of one test's own, created empty and dropped (with any connection still open to
/// it) when the test ends, passed or failed.
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Callable from any test, synchronous or async: the work runs on a thread of its own.
    pub fn create(prefix: &str) -> TestDatabase {
        let name = unique_name(prefix);
        admin(format!("CREATE DATABASE {name}"));
        TestDatabase { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@{POSTGRES_ADDRESS}/{}", self.name)
    }

    /// The URL of this database through another address, such as a test's proxy.
    pub fn url_via(&self, address: impl std::fmt::Display) -> String {
        format!("postgres://postgres@{address}/{}", self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        admin(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Runs one statement on the admin database, on a thread with its own runtime, so that it
/// works inside and outside async tests, and in `Drop`.
fn admin(statement: String) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the statement")
            .block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(ADMIN_URL, tokio_postgres::NoTls)
                        .await
                        .expect("the test PostgreSQL answers at 127.0.0.1:5432");
                tokio::spawn(connection);
                client
                    .batch_execute(&statement)
                    .await
                    .unwrap_or_else(|err| panic!("{statement}: {err}"));
            })
    })
    .join()
    .expect("the admin statement succeeded");
}

/// Deletes a test's queue and every key beside it (`<queue>:…`, where the worker keeps its
/// processing lists, leases and dead letters, under ids chosen at run time) when the test ends,
/// passed or failed.
pub struct QueueCleanup {
    url: String,
    queue: String,
}

impl QueueCleanup {
    pub fn new(url: &str, queue: &str) -> QueueCleanup {
        QueueCleanup {
            url: url.to_owned(),
            queue: queue.to_owned(),
        }
    }
}

impl Drop for QueueCleanup {
    fn drop(&mut self) {
        // A Redis the test stopped has nothing left to clean.
        let Ok(mut redis) = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(1)))
        else {
            return;
        };
        // Test queue names come from `unique_name`: no glob characters in the pattern.
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.queue))
            .query(&mut redis)
            .unwrap_or_default();
        keys.push(self.queue.clone());
        let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut redis);
    }
}

/// A redis-server of the test's own on a free loopback port, which the test may stop, freeze
/// and restart. It keeps nothing on disk.
pub struct OwnRedis {
    port: u16,
    tls: Option<PathBuf>,
    process: Option<Child>,
}

impl OwnRedis {
    /// Plain TCP.
    pub fn start() -> OwnRedis {
        OwnRedis::start_with(None)
    }

    /// TLS only, with the certificate of `authority` for `localhost`.
    pub fn start_tls(authority: &TestAuthority) -> OwnRedis {
        OwnRedis::start_with(Some(authority.dir.clone()))
    }

    fn start_with(tls: Option<PathBuf>) -> OwnRedis {
        let mut redis = OwnRedis {
            port: free_port(),
            tls,
            process: None,
        };
        redis.restart();
        redis
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`, or `rediss://localhost:<port>/0` (the name the
    /// certificate holds) for a TLS server.
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}/0", self.port),
            Some(_) => format!("rediss://localhost:{}/0", self.port),
        }
    }

    /// Starts (again) on the same port, and waits until it accepts connections.
    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(dir) => {
                let file = |name: &str| dir.join(name).display().to_string();
                command
                    .args(["--port", "0", "--tls-port", &port])
                    .args(["--tls-cert-file", &file("server.pem")])
                    .args(["--tls-key-file", &file("server.key")])
                    .args(["--tls-ca-cert-file", &file("ca.pem")])
                    .args(["--tls-auth-clients", "no"])
            }
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.process = Some(child);
        wait_until("the test's Redis listens", || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// Kills the server (SIGKILL): every connection drops at once.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes (`-STOP`) or thaws (`-CONT`) the server: connected, but not answering.
    pub fn signal(&self, signal: &str) {
        let pid = self.process.as_ref().expect("the server runs").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if self.process.is_some() {
            // A frozen process ignores nothing but SIGKILL; thaw it so it dies cleanly.
            self.signal("-CONT");
        }
        self.stop();
    }
}

/// A throwaway certificate authority, and a certificate for `localhost` (and 127.0.0.1)
/// signed by it, in a folder removed when the test ends. Programs under test trust it only
/// through `SSL_CERT_FILE` set on their own process, which the system root store honours, so
/// nothing is trusted that production would not trust.
pub struct TestAuthority {
    dir: PathBuf,
}

impl TestAuthority {
    pub fn make() -> TestAuthority {
        let dir = std::env::temp_dir().join(unique_name("test-ca"));
        std::fs::create_dir_all(&dir).expect("the temp folder is writable");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .expect("the temp folder is writable");
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed");
            assert!(status.success(), "openssl {args:?}");
        };
        openssl(
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ]
            .into_iter()
            .chain([
                "-subj",
                "/CN=voting app test CA",
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
            .chain([
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ])
            .collect::<Vec<_>>(),
        );
        TestAuthority { dir }
    }

    /// The folder holding `ca.pem`, `server.pem` and `server.key`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A file of the folder, as a string for a command line or an environment variable.
    pub fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The CA certificate: what `SSL_CERT_FILE` points at.
    pub fn ca_file(&self) -> String {
        self.file("ca.pem")
    }
}

impl Drop for TestAuthority {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
