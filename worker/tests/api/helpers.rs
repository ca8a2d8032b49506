//! Each test gets its own database and its own queue name, both removed when the test ends
//! (passed or not), and starts workers through exactly the production code path: in-process
//! with `Application`, or as the debug binary when the test needs to kill a process.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::AsyncCommands;
use test_support::{LOCAL_REDIS, PATIENCE, QueueCleanup, free_port, unique_name};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tokio_postgres::{AsyncMessage, NoTls};
use worker::{configuration::Settings, startup::Application};

/// A short lease, so that recovery tests take seconds; still within the allowed range.
pub const TEST_LEASE: Duration = Duration::from_secs(3);

/// A database of one test, dropped with it, and a connection to it for the test's queries.
pub struct TestDatabase {
    // Declared first so that it closes before the database is dropped.
    pub client: tokio_postgres::Client,
    database: test_support::TestDatabase,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let database = test_support::TestDatabase::create("worker_test");
        let client = connect(&database.url()).await;
        TestDatabase { client, database }
    }

    pub fn url(&self) -> String {
        self.database.url()
    }

    /// The URL of this database through another address (a proxy's).
    pub fn url_via(&self, address: SocketAddr) -> String {
        self.database.url_via(address)
    }

    /// A new connection of the test's own.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url()).await
    }

    /// Every stored vote: voter id -> (vote, ts).
    pub async fn votes(&self) -> BTreeMap<String, (String, i64)> {
        self.client
            .query("SELECT id, vote, ts FROM votes", &[])
            .await
            .expect("reading votes")
            .iter()
            .map(|row| (row.get(0), (row.get(1), row.get(2))))
            .collect()
    }

    pub async fn vote_count(&self) -> i64 {
        match self
            .client
            .query_one("SELECT count(*) FROM votes", &[])
            .await
        {
            Ok(row) => row.get(0),
            // Not migrated yet.
            Err(_) => 0,
        }
    }

    pub async fn tally(&self) -> BTreeMap<String, i64> {
        self.counts("SELECT vote, n FROM vote_tally").await
    }

    /// The totals as SPEC section 2 defines them.
    pub async fn group_by(&self) -> BTreeMap<String, i64> {
        self.counts("SELECT vote, COUNT(id) FROM votes GROUP BY vote")
            .await
    }

    async fn counts(&self, query: &str) -> BTreeMap<String, i64> {
        self.client
            .query(query, &[])
            .await
            .expect("reading counts")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    pub async fn assert_tally_exact(&self) {
        assert_eq!(
            self.tally().await,
            self.group_by().await,
            "tally differs from the GROUP BY"
        );
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("the test PostgreSQL answers at 127.0.0.1:5432");
    tokio::spawn(connection);
    client
}

/// The channel of the test's own markers (see [`notifications_before_marker`]).
const MARKER: &str = "test_marker";

/// A connection that LISTENs on `votes_changed` (and on the tests' marker channel);
/// notifications arrive on the receiver, by channel name, in commit order.
pub async fn listen(url: &str) -> (tokio_postgres::Client, mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("the test PostgreSQL answers");
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(notification) = message {
                let _ = sender.send(notification.channel().to_owned());
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN votes_changed; LISTEN {MARKER}"))
        .await
        .expect("LISTEN");
    (client, receiver)
}

/// How many `votes_changed` notifications arrive before a marker that `writer` sends now: all
/// those of the transactions `writer` committed before, since PostgreSQL delivers
/// notifications in commit order. So a missing one and an extra one both show, without
/// waiting for something that might come later.
pub async fn notifications_before_marker(
    writer: &tokio_postgres::Client,
    notifications: &mut mpsc::UnboundedReceiver<String>,
) -> usize {
    writer
        .batch_execute(&format!("NOTIFY {MARKER}"))
        .await
        .expect("NOTIFY");
    let mut count = 0;
    loop {
        let channel = tokio::time::timeout(PATIENCE, notifications.recv())
            .await
            .expect("the marker arrives")
            .expect("the listening connection is open");
        if channel == MARKER {
            return count;
        }
        assert_eq!(channel, "votes_changed");
        count += 1;
    }
}

/// The Redis keys of one test, all deleted with it.
pub struct TestQueue {
    pub name: String,
    pub redis: redis::aio::MultiplexedConnection,
    /// Deletes the queue and the workers' keys beside it when the test ends.
    _cleanup: QueueCleanup,
}

impl TestQueue {
    pub async fn create() -> TestQueue {
        let name = unique_name("worker_test");
        let redis = redis::Client::open(LOCAL_REDIS)
            .expect("a valid URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test Redis answers at 127.0.0.1:6379");
        TestQueue {
            _cleanup: QueueCleanup::new(LOCAL_REDIS, &name),
            name,
            redis,
        }
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.name)
    }

    pub async fn push(&self, messages: &[String]) {
        let mut redis = self.redis.clone();
        for chunk in messages.chunks(10_000) {
            let _: () = redis.rpush(&self.name, chunk).await.expect("RPUSH");
        }
    }

    pub async fn len(&self, key: &str) -> usize {
        self.redis.clone().llen(key).await.expect("LLEN")
    }

    pub async fn list(&self, key: &str) -> Vec<Vec<u8>> {
        self.redis.clone().lrange(key, 0, -1).await.expect("LRANGE")
    }

    /// The messages still in Redis: waiting in the queue or held by a worker.
    pub async fn messages_in_redis(&self) -> usize {
        let mut total = self.len(&self.name).await;
        for key in self.processing_lists().await {
            total += self.len(&key).await;
        }
        total
    }

    /// The workers' processing lists that exist (hold messages).
    pub async fn processing_lists(&self) -> Vec<String> {
        let mut keys = self.keys().await;
        keys.retain(|key| key.contains(":processing:"));
        keys
    }

    /// Every key of this queue, the queue itself included.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .redis
            .clone()
            .keys(format!("{}:*", self.name))
            .await
            .expect("KEYS");
        if self.len(&self.name).await > 0 {
            keys.push(self.name.clone());
        }
        keys.sort();
        keys
    }
}

/// A message as the vote service sends it.
pub fn ballot(voter_id: &str, vote: &str, ts: i64) -> String {
    serde_json::json!({"voter_id": voter_id, "vote": vote, "ts": ts}).to_string()
}

pub fn settings(database_url: &str, queue: &str, batch_size: usize) -> Settings {
    Settings {
        redis_url: LOCAL_REDIS.to_owned(),
        database: service_kit::postgres::PostgresConfig::parse(database_url, None)
            .expect("a valid test URL"),
        queue: queue.to_owned(),
        port: 0,
        batch_size,
        lease: TEST_LEASE,
    }
}

/// A worker running in this process.
pub struct TestWorker {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    running: JoinHandle<anyhow::Result<()>>,
}

impl TestWorker {
    pub async fn spawn(settings: Settings) -> TestWorker {
        let application = Application::build(settings)
            .await
            .expect("the worker builds");
        let (stop, stopped) = oneshot::channel::<()>();
        let port = application.port();
        let running = tokio::spawn(application.run_until_stopped(async {
            let _ = stopped.await;
        }));
        TestWorker {
            port,
            stop: Some(stop),
            running,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path)
            .await
            .expect("the worker answers HTTP")
    }

    /// Stops it the way a signal would, and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.running)
            .await
            .expect("the worker task did not panic")
            .expect("the worker stopped cleanly");
    }
}

/// A plain HTTP/1.0 request to the worker's port: status and body, or the I/O error.
pub async fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    Ok((status, body))
}

/// The worker binary as a command (debug build), its logs as JSON lines on stdout.
fn worker_command(
    redis_url: &str,
    database_url: &str,
    queue: &str,
    batch_size: usize,
    port: u16,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env("REDIS_URL", redis_url)
        .env("DATABASE_URL", database_url)
        .env("VOTE_QUEUE", queue)
        .env("PORT", port.to_string())
        .env("WORKER_BATCH_SIZE", batch_size.to_string())
        .env("WORKER_LEASE_SECS", TEST_LEASE.as_secs().to_string())
        .env("LOG_FORMAT", "json")
        .kill_on_drop(true);
    command
}

/// The worker binary, started as a separate process on the test Redis; `port` 0 picks any.
pub fn spawn_process(
    database_url: &str,
    queue: &str,
    batch_size: usize,
    port: u16,
) -> tokio::process::Child {
    worker_command(LOCAL_REDIS, database_url, queue, batch_size, port)
        .stdout(Stdio::null())
        .spawn()
        .expect("the worker binary starts")
}

/// A worker process whose logs the test reads, stopped the way an orchestrator stops it.
pub struct WorkerProcess {
    pub port: u16,
    child: tokio::process::Child,
    /// Every line it printed so far.
    logs: Arc<Mutex<Vec<String>>>,
}

impl WorkerProcess {
    pub fn start(redis_url: &str, database_url: &str, queue: &str) -> WorkerProcess {
        let port = free_port();
        let mut child = worker_command(redis_url, database_url, queue, 100, port)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the worker binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let sink = Arc::clone(&logs);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock()
                    .expect("no reader panics while holding the lock")
                    .push(line);
            }
        });
        WorkerProcess { port, child, logs }
    }

    pub fn logged(&self, text: &str) -> bool {
        self.logs
            .lock()
            .expect("no reader panics while holding the lock")
            .iter()
            .any(|line| line.contains(text))
    }

    pub async fn wait_ready(&self) {
        test_support::wait_until_async("the worker is ready", async || {
            http(self.port, "GET", "/readyz")
                .await
                .is_ok_and(|(status, _)| status == 200)
        })
        .await;
    }

    /// Sends SIGTERM and waits for the exit; the time is measured from just before the signal.
    /// Gives up (and fails the test) well past SPEC's 10 s, so that a hang shows as one.
    pub async fn terminate(&mut self) -> (ExitStatus, Duration) {
        let pid = self.child.id().expect("the worker is running");
        let signalled = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM is delivered");
        let exit = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the worker exits after SIGTERM")
            .expect("reaped");
        (exit, signalled.elapsed())
    }

    /// Asserts SPEC section 6 of a stop that took `took` and ended in `exit`: status 0 within
    /// 10 s of the signal, by the orderly stop (the exit watchdog did not have to end it).
    pub async fn assert_stopped_in_time(&self, exit: ExitStatus, took: Duration) {
        eprintln!("exited {took:?} after SIGTERM");
        assert!(exit.success(), "exit status {exit:?}");
        assert!(
            took < service_kit::lifecycle::STOP_BOUND,
            "exited {took:?} after SIGTERM"
        );
        // The last lines reach the reader after the exit.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !self.logged(service_kit::lifecycle::WATCHDOG_MESSAGE),
            "the exit watchdog had to end the stop"
        );
        assert!(self.logged("worker stopped"), "the orderly stop finished");
    }
}

pub use test_support::TcpProxy;
