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
/// where they are told to: through `sslrootcert` in a `DATABASE_URL`, or `SSL_CERT_FILE` set
/// on their own process, which the system root store honours; so nothing is trusted that
/// production would not trust.
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

/// A TCP proxy the test can cut (every connection dropped, new ones refused), freeze (every
/// connection kept open, nothing forwarded, as when a server hangs or a network path dies
/// silently) and restore, to make a backing service fail without touching the shared one.
/// Frozen from the start, it is a server that accepts and never answers.
pub struct TcpProxy {
    pub address: std::net::SocketAddr,
    state: tokio::sync::watch::Sender<ProxyState>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProxyState {
    Open,
    Frozen,
    Cut,
}

impl TcpProxy {
    /// Must run inside a Tokio runtime, which runs the proxy.
    pub async fn start(target: &str) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let (state, _) = tokio::sync::watch::channel(ProxyState::Open);
        let accepting = state.subscribe();
        let target = target.to_owned();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *accepting.borrow() == ProxyState::Cut {
                    continue; // dropped: refused
                }
                let state = accepting.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (from_client, to_client) = inbound.into_split();
                    let (from_server, to_server) = outbound.into_split();
                    tokio::select! {
                        () = pump(from_client, to_server, state.clone()) => {}
                        () = pump(from_server, to_client, state) => {}
                    }
                });
            }
        });
        TcpProxy { address, state }
    }

    /// Drops every connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.state.send_replace(ProxyState::Cut);
    }

    /// Keeps every connection, and accepts new ones, but forwards nothing until
    /// [`TcpProxy::restore`]; what was read meanwhile is then delivered.
    pub fn freeze(&self) {
        self.state.send_replace(ProxyState::Frozen);
    }

    pub fn restore(&self) {
        self.state.send_replace(ProxyState::Open);
    }
}

/// Copies one direction of a proxied connection while the proxy is open; returns when either
/// side closes or the proxy is cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: tokio::sync::watch::Receiver<ProxyState>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // Nothing is read while frozen either, so the sender's window fills as with a hung
        // server.
        let open = |state: &ProxyState| *state != ProxyState::Frozen;
        if state
            .wait_for(open)
            .await
            .map_or(true, |state| *state == ProxyState::Cut)
        {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = state.wait_for(|state| *state == ProxyState::Cut) => return,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if state
            .wait_for(open)
            .await
            .map_or(true, |state| *state == ProxyState::Cut)
        {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// The JSON log lines of a program under test, read from its stdout as they come, so that a
/// test can wait for a line instead of racing the reader.
#[derive(Clone)]
pub struct LogLines {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    added: std::sync::Arc<tokio::sync::Notify>,
}

impl LogLines {
    /// Takes the child's piped stdout and reads it to its end on a task of the test's runtime.
    pub fn capture(child: &mut tokio::process::Child) -> LogLines {
        use tokio::io::AsyncBufReadExt;
        let stdout = child.stdout.take().expect("the program's stdout is piped");
        let log = LogLines {
            lines: Default::default(),
            added: Default::default(),
        };
        let reader = log.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                reader.lines.lock().expect("no reader panics").push(line);
                reader.added.notify_waiters();
            }
        });
        log
    }

    /// Every line so far.
    pub fn text(&self) -> String {
        self.lines.lock().expect("no reader panics").join("\n")
    }

    /// Waits for a JSON line that `matches`, and returns it; fails the test after
    /// [`PATIENCE`], showing what was logged.
    pub async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                let added = self.added.notified();
                let found = self
                    .lines
                    .lock()
                    .expect("no reader panics")
                    .iter()
                    .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                    .find(|entry| matches(entry));
                if let Some(found) = found {
                    return found;
                }
                added.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no log line {what}; the log:\n{}", self.text()))
    }

    /// Waits for the line whose message is `message`.
    pub async fn wait_for_message(&self, message: &str) -> serde_json::Value {
        self.wait_for(&format!("saying {message:?}"), |entry| {
            entry["message"] == message
        })
        .await
    }
}

/// A PostgreSQL server of the test's own, in a temporary folder, run as the `postgres` user
/// (PostgreSQL refuses to run as root): with TLS on a certificate of the test's authority, or
/// plain; with trust or with password authentication. Stopped and removed with the test.
pub struct OwnPostgres {
    server: Child,
    port: u16,
    folder: PathBuf,
    password: Option<String>,
}

/// How an [`OwnPostgres`] is set up.
#[derive(Default)]
pub struct PostgresSetup<'a> {
    /// TLS with the authority's `localhost` certificate; plain when `None`.
    pub tls: Option<&'a TestAuthority>,
    /// The `postgres` user's password, required of every client (SCRAM); trust when `None`.
    pub password: Option<&'a str>,
}

impl OwnPostgres {
    /// Starts the server and waits until it accepts connections.
    pub fn start(setup: PostgresSetup<'_>) -> OwnPostgres {
        let folder = std::env::temp_dir().join(unique_name("test-postgres"));
        std::fs::create_dir_all(&folder).expect("the temp folder is writable");
        let file = |name: &str| folder.join(name).display().to_string();
        let mut initdb = as_postgres(postgres_bin().join("initdb"));
        initdb.args(["-D", &file("data"), "-U", "postgres", "--no-sync"]);
        match setup.password {
            None => {
                initdb.args(["-A", "trust"]);
            }
            Some(password) => {
                std::fs::write(folder.join("password"), password).expect("writable");
                initdb.args(["-A", "scram-sha-256", "--pwfile", &file("password")]);
            }
        }
        if let Some(authority) = setup.tls {
            for name in ["server.pem", "server.key"] {
                std::fs::copy(authority.dir().join(name), folder.join(name))
                    .expect("the authority's files are readable");
            }
            // PostgreSQL refuses a key that others can read.
            std::fs::set_permissions(
                folder.join("server.key"),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .expect("the test owns the key it copied");
        }
        give_to_postgres(&folder);
        let initialized = initdb
            .current_dir(&folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(initialized.success(), "initdb");
        let port = free_port();
        let mut server = as_postgres(postgres_bin().join("postgres"));
        server
            .args([
                "-D",
                &file("data"),
                "-p",
                &port.to_string(),
                "-k",
                &file(""),
            ])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
        if setup.tls.is_some() {
            server
                .args(["-c", "ssl=on"])
                .args(["-c", &format!("ssl_cert_file={}", file("server.pem"))])
                .args(["-c", &format!("ssl_key_file={}", file("server.key"))]);
        }
        let server = server
            .current_dir(&folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let postgres = OwnPostgres {
            server,
            port,
            folder,
            password: setup.password.map(str::to_owned),
        };
        wait_until("the test's PostgreSQL accepts connections", || {
            Command::new("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|status| status.success())
        });
        postgres
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@localhost:<port>/postgres` and then `parameters` (`?…`), with
    /// `localhost`, the name the certificate holds.
    pub fn url(&self, parameters: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres{parameters}",
            self.port
        )
    }

    /// A plain connection of the test's own.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname("postgres");
        if let Some(password) = &self.password {
            config.password(password);
        }
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("the test's PostgreSQL answers");
        tokio::spawn(connection);
        client
    }

    /// Whether the connections of `application_name` use TLS; `None` while there are none.
    pub async fn uses_tls(&self, application_name: &str) -> Option<bool> {
        self.connect()
            .await
            .query_one(
                "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE application_name = $1",
                &[&application_name],
            )
            .await
            .expect("pg_stat_ssl is readable")
            .get(0)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown.
        let _ = Command::new("kill")
            .args(["-INT", &self.server.id().to_string()])
            .status();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// What a program does with a `DATABASE_URL` of [`tls_cases`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOutcome {
    /// Connects without TLS.
    Plain,
    /// Connects over TLS.
    Encrypted,
    /// Does not connect, and logs an error containing this.
    Refused(&'static str),
}

/// One `DATABASE_URL` and what libpq's `sslmode` makes of it. Its connections carry
/// `application_name`, so that the test can find them in `pg_stat_ssl`.
pub struct TlsCase<'a> {
    pub url: String,
    pub application_name: String,
    pub outcome: TlsOutcome,
    server: &'a OwnPostgres,
}

impl TlsCase<'_> {
    /// Watches `program`, started with this case's `DATABASE_URL` and its JSON log on a piped
    /// stdout, until it shows the outcome, and asserts it.
    pub async fn check(&self, mut program: tokio::process::Child) {
        let log = LogLines::capture(&mut program);
        let what = format!("{:?} with DATABASE_URL={}", self.outcome, self.url);
        match self.outcome {
            TlsOutcome::Refused(reason) => {
                log.wait_for(&format!("blaming DATABASE_URL for {what}"), |entry| {
                    let line = entry.to_string();
                    line.contains("DATABASE_URL") && line.contains(reason)
                })
                .await;
                assert_eq!(
                    self.server.uses_tls(&self.application_name).await,
                    None,
                    "{what}: a connection was made"
                );
            }
            TlsOutcome::Plain | TlsOutcome::Encrypted => {
                let encrypted = self.outcome == TlsOutcome::Encrypted;
                let mut seen = None;
                wait_until_async(&what, async || {
                    seen = self.server.uses_tls(&self.application_name).await;
                    seen.is_some()
                })
                .await;
                assert_eq!(seen, Some(encrypted), "{what}; the log:\n{}", log.text());
            }
        }
    }
}

/// Every `sslmode` where it behaves differently, against `tls` (a certificate of `authority`)
/// and `plain` (no TLS), in both of libpq's URL forms. The same cases for every program, so
/// that they behave alike.
pub fn tls_cases<'a>(
    tls: &'a OwnPostgres,
    plain: &'a OwnPostgres,
    authority: &TestAuthority,
) -> Vec<TlsCase<'a>> {
    let ca = authority.ca_file();
    // A name the certificate does not hold, for an address it serves.
    let wrong_name = |port: u16, mode: &str| {
        format!(
            "host=wrong-name.invalid hostaddr=127.0.0.1 port={port} user=postgres \
             dbname=postgres sslmode={mode} sslrootcert='{ca}'"
        )
    };
    let unknown_authority = TlsOutcome::Refused("invalid peer certificate");
    [
        (tls, tls.url("?sslmode=disable"), TlsOutcome::Plain),
        // `prefer`, the default: TLS when offered, whoever signed the certificate.
        (tls, tls.url(""), TlsOutcome::Encrypted),
        (plain, plain.url("?sslmode=prefer"), TlsOutcome::Plain),
        (tls, tls.url("?sslmode=require"), TlsOutcome::Encrypted),
        (
            plain,
            plain.url("?sslmode=require"),
            TlsOutcome::Refused("server does not support TLS"),
        ),
        // The system's roots do not hold the test's authority.
        (tls, tls.url("?sslmode=verify-ca"), unknown_authority),
        (tls, tls.url("?sslmode=verify-full"), unknown_authority),
        (
            tls,
            tls.url(&format!("?sslmode=verify-full&sslrootcert={ca}")),
            TlsOutcome::Encrypted,
        ),
        (
            tls,
            wrong_name(tls.port(), "verify-ca"),
            TlsOutcome::Encrypted,
        ),
        (
            tls,
            wrong_name(tls.port(), "verify-full"),
            TlsOutcome::Refused("not valid for name"),
        ),
    ]
    .into_iter()
    .map(|(server, url, outcome)| {
        let application_name = unique_name("tls_case");
        let separator = if url.starts_with("postgres://") {
            if url.contains('?') { "&" } else { "?" }
        } else {
            " "
        };
        TlsCase {
            url: format!("{url}{separator}application_name={application_name}"),
            application_name,
            outcome,
            server,
        }
    })
    .collect()
}

/// Every case of [`tls_cases`] for a program that `spawn` starts with the `DATABASE_URL` it
/// is given, its JSON log on a piped stdout: the one TLS test of every program.
pub async fn check_every_sslmode(spawn: impl Fn(&str) -> tokio::process::Child) {
    let authority = TestAuthority::make();
    let tls = OwnPostgres::start(PostgresSetup {
        tls: Some(&authority),
        ..PostgresSetup::default()
    });
    let plain = OwnPostgres::start(PostgresSetup::default());
    for case in tls_cases(&tls, &plain, &authority) {
        case.check(spawn(&case.url)).await;
    }
}

/// Hands `path` to the `postgres` user, as the server programs run as that user.
fn give_to_postgres(path: &Path) {
    let (uid, gid) = postgres_user();
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|err| panic!("the tests run as root to chown {}: {err}", path.display()));
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable") {
            give_to_postgres(&entry.expect("readable").path());
        }
    }
}

/// The uid and gid of the `postgres` user, whom the server programs run as.
fn postgres_user() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("the postgres user exists")
    };
    (id("-u"), id("-g"))
}

/// A command run as the `postgres` user: directly, so that signals reach it.
fn as_postgres(program: PathBuf) -> Command {
    use std::os::unix::process::CommandExt;
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
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// A password that no output of a program may show.
pub const SECRET: &str = "hunter2-S3cret";

/// `DATABASE_URL` in each form that can carry a password (SPEC section 1), for an address
/// where nothing listens, so that the program also logs why it cannot connect.
pub fn database_urls_with_a_password() -> [String; 3] {
    let port = free_port();
    [
        format!("postgres://postgres:{SECRET}@127.0.0.1:{port}/postgres"),
        format!("postgres://127.0.0.1:{port}/postgres?user=postgres&password={SECRET}"),
        format!("host=127.0.0.1 port={port} user=postgres password='{SECRET}' dbname=postgres"),
    ]
}

/// `DATABASE_URL`s with a password that a program must refuse at start-up.
pub fn invalid_database_urls_with_a_password() -> [String; 3] {
    [
        format!("postgres://postgres:{SECRET}@db:5432/postgres?sslmode=always"),
        format!("postgres://db/postgres?password={SECRET}&colour=blue"),
        format!("host=db password='{SECRET} dbname=postgres"),
    ]
}

/// Watches `program`, its JSON log on a piped stdout, until it has logged its start-up line
/// (with a field named after `variable`, lowercase) and a warning or an error that names
/// `variable`, and
/// asserts that the start-up line shows the password as `***` and that no line shows
/// [`SECRET`].
pub async fn assert_password_never_logged(program: &mut tokio::process::Child, variable: &str) {
    let log = LogLines::capture(program);
    let field = variable.to_lowercase();
    let start = log
        .wait_for(&format!("with the {field} in use"), |entry| {
            entry["level"] == "INFO" && entry.get(&field).is_some()
        })
        .await;
    let shown = start[&field].as_str().expect("the URL is a string");
    assert!(shown.contains(":***@"), "{shown}");
    log.wait_for(&format!("warning about {variable}"), |entry| {
        (entry["level"] == "WARN" || entry["level"] == "ERROR")
            && entry.to_string().contains(variable)
    })
    .await;
    assert!(!log.text().contains(SECRET), "{}", log.text());
}

/// Waits for `program` to exit, which it must, with a failure status and an error naming
/// `variable` and not showing [`SECRET`]; returns the error output.
pub async fn assert_configuration_error(program: tokio::process::Child, variable: &str) -> String {
    let output = tokio::time::timeout(PATIENCE, program.wait_with_output())
        .await
        .expect("the program exits")
        .expect("the program's output is readable");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains(variable), "{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stdout.contains(SECRET),
        "{stdout}{stderr}"
    );
    stderr
}

/// `DATABASE_PASSWORD_FILE` (SPEC section 1) for a program that `spawn` starts with the
/// `DATABASE_URL` and the password file it is given, its JSON log on a piped stdout: the
/// file's password (its trailing newline stripped) is used instead of the URL's, and a file
/// that cannot be read stops the program with an error naming the variable.
pub async fn check_password_file(spawn: impl Fn(&str, Option<&Path>) -> tokio::process::Child) {
    let password = "from-the-file";
    let postgres = OwnPostgres::start(PostgresSetup {
        password: Some(password),
        ..PostgresSetup::default()
    });
    let folder = std::env::temp_dir().join(unique_name("password-file"));
    std::fs::create_dir_all(&folder).expect("the temp folder is writable");
    let file = folder.join("password");
    std::fs::write(&file, format!("{password}\n")).expect("the temp folder is writable");
    let application_name = unique_name("password_file");
    // The URL's own password is wrong: only the file's can connect.
    let url = format!(
        "postgres://postgres:{SECRET}@127.0.0.1:{}/postgres?sslmode=disable&application_name={application_name}",
        postgres.port()
    );

    let with_file = spawn(&url, Some(&file));
    wait_until_async(
        "the program connects with the file's password",
        async || postgres.uses_tls(&application_name).await.is_some(),
    )
    .await;
    drop(with_file);

    let mut without_file = spawn(&url, None);
    let log = LogLines::capture(&mut without_file);
    log.wait_for("about the refused password", |entry| {
        entry.to_string().contains("password authentication failed")
    })
    .await;

    let missing = spawn(&url, Some(&folder.join("missing")));
    let error = assert_configuration_error(missing, "DATABASE_PASSWORD_FILE").await;
    assert!(error.contains("cannot read"), "{error}");
    let _ = std::fs::remove_dir_all(&folder);
}
