//! Spawning the service in-process on a free port against a fresh database of its own.

use std::time::Duration;

use awc::ws::{CloseReason, Frame, Message};
use ballot::{Ballot, VoteOption, now_millis};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use result::{configuration::Settings, routes::SocketSettings, startup::Application};
use serde_json::{Value, json};
use service_kit::postgres::PostgresConfig;
use test_support::{PATIENCE, wait_until_async};
use tokio::sync::oneshot;
use worker::store::{FoldedBatch, connection_pool, store_batch};

/// A safety poll so slow that, within a test, only a notification can deliver a change.
const NO_SAFETY_POLL: Duration = Duration::from_secs(3600);

/// A heartbeat so slow that, within a test, a socket gets a frame only when the tally changes.
const NO_HEARTBEAT: Duration = Duration::from_secs(3600);

/// A safety poll fast enough for a test to wait on.
pub const FAST_SAFETY_POLL: Duration = Duration::from_millis(200);

/// What exists in the database when the service starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Nothing: no worker has run yet.
    Absent,
    /// `votes` only, as the original worker makes it: no tally, no notifications.
    VotesOnly,
    /// The worker's own schema, migrated by the worker's own code: `votes`, `vote_tally`
    /// kept exact by triggers, and a NOTIFY at the commit of every change, also from plain SQL.
    Worker,
}

/// The original worker's table (SPEC section 2).
const VOTES_TABLE: &str = "CREATE TABLE votes (id VARCHAR(255) NOT NULL UNIQUE, \
    vote VARCHAR(255) NOT NULL, ts BIGINT NOT NULL DEFAULT 0);";

/// A database of one test with the schema it asks for, and the test's own connection to
/// arrange and act; test-support creates it and drops it when the test ends, passed or failed.
pub struct Database {
    /// Declared first so that they close first, before the database is dropped, whose FORCE
    /// ends any connection still closing.
    pub client: tokio_postgres::Client,
    worker_pool: deadpool_postgres::Pool,
    database: test_support::TestDatabase,
}

impl Database {
    pub async fn create(schema: Schema) -> Database {
        let database = test_support::TestDatabase::create("result_test");
        let config = PostgresConfig::parse(&database.url(), None).expect("a valid test URL");
        let (mut client, connection) = config
            .connect()
            .await
            .expect("the database test-support just created accepts connections");
        tokio::spawn(connection);
        match schema {
            Schema::Absent => {}
            Schema::VotesOnly => client
                .batch_execute(VOTES_TABLE)
                .await
                .expect("the fixed DDL runs on an empty database"),
            Schema::Worker => {
                worker::schema::migrate(&mut client)
                    .await
                    .expect("the worker's migrations run on an empty database");
            }
        }
        Database {
            client,
            worker_pool: connection_pool(&config),
            database,
        }
    }

    pub fn url(&self) -> String {
        self.database.url()
    }

    /// The URL of this database through another address, such as a test's proxy.
    pub fn url_via(&self, address: impl std::fmt::Display) -> String {
        self.database.url_via(address)
    }

    /// Runs plain SQL, as a person in psql would.
    pub async fn sql(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }

    /// Writes a batch with the worker's own code: one transaction, last write wins by `ts`,
    /// the tally kept and the NOTIFY sent by the worker's triggers at commit.
    pub async fn write_batch(&self, ballots: &[(&str, &str)]) {
        let ballots = ballots
            .iter()
            .map(|(voter_id, vote)| Ballot {
                voter_id: (*voter_id).to_owned(),
                vote: VoteOption::parse(vote).expect("tests vote a or b"),
                ts: now_millis(),
            })
            .collect();
        let mut client = self
            .worker_pool
            .get()
            .await
            .expect("a connection to the test database");
        store_batch(&mut client, &FoldedBatch::fold(ballots))
            .await
            .expect("the worker stores the batch");
    }

    /// Cuts every connection to this database but the one that asks: the service's LISTEN
    /// and read connections die as in a database restart.
    pub async fn cut_connections(&self) -> i64 {
        self.client
            .query_one(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("terminating the service's connections")
            .get(0)
    }
}

/// The settings of a test instance: production defaults but a free port, the test's database,
/// no shutdown drain, and only notifications to deliver changes unless a test asks for a poll.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        port: 0,
        database: PostgresConfig::parse(database_url, None).expect("a valid test URL"),
        option_a: "Cats".to_owned(),
        option_b: "Dogs".to_owned(),
        app_version: "9.9.9-test".to_owned(),
        safety_poll: NO_SAFETY_POLL,
        shutdown_drain: Duration::ZERO,
        sockets: SocketSettings {
            heartbeat: NO_HEARTBEAT,
            client_timeout: NO_HEARTBEAT * 2,
            ..SocketSettings::default()
        },
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub database: Database,
    pub client: awc::Client,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(schema: Schema) -> TestApp {
        TestApp::spawn_with(schema, |_| {}).await
    }

    /// Spawns the service with a fast safety poll, for changes that come without a NOTIFY.
    pub async fn spawn_polling(schema: Schema) -> TestApp {
        TestApp::spawn_with(schema, |settings| settings.safety_poll = FAST_SAFETY_POLL).await
    }

    /// Spawns the service with the test settings as changed by `adjust`.
    pub async fn spawn_with(schema: Schema, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let database = Database::create(schema).await;
        TestApp::spawn_on(database, adjust).await
    }

    /// Spawns the service on a database the test has already filled, and waits until it is
    /// ready, as a load balancer would.
    pub async fn spawn_on(database: Database, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let url = database.url();
        TestApp::spawn_at(database, &url, adjust).await
    }

    /// Spawns the service on `database`, reached at `url` (through a test's proxy, say).
    pub async fn spawn_at(
        database: Database,
        url: &str,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = test_settings(url);
        adjust(&mut settings);
        let application = Application::build(settings)
            .await
            .expect("the application builds");
        let port = application.port();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = actix_web::rt::spawn(application.run_until_stopped(async {
            // A dropped sender stops the service too.
            let _ = stopped.await;
        }));
        let app = TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            database,
            client: awc::Client::default(),
            stop: Some(stop),
            served: Some(served),
        };
        wait_until_async("the service is ready", async || {
            app.get("/readyz").await.0 == 200
        })
        .await;
        app
    }

    pub async fn get(
        &self,
        path: &str,
    ) -> (awc::http::StatusCode, String, awc::http::header::HeaderMap) {
        let mut response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the service answers");
        let body = response.body().await.expect("a readable body");
        (
            response.status(),
            String::from_utf8(body.to_vec()).expect("a UTF-8 body"),
            response.headers().clone(),
        )
    }

    pub async fn results(&self) -> Value {
        let (status, body, _) = self.get("/api/results").await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("/api/results answers JSON")
    }

    pub async fn connect_socket(&self) -> TestSocket<impl TestFrames + use<>> {
        let (_, frames) = self
            .client
            .ws(format!("ws://127.0.0.1:{}/ws", self.port))
            .connect()
            .await
            .expect("the WebSocket handshake succeeds");
        TestSocket::from_frames(frames)
    }

    /// Connects a socket and checks the snapshot it gets on connect: no votes yet.
    pub async fn connect_socket_at_zero(&self) -> TestSocket<impl TestFrames + use<>> {
        let mut socket = self.connect_socket().await;
        assert_eq!(socket.next_tally().await, tally_json(0, 0));
        socket
    }

    /// Stops the service as a shutdown signal would and waits until it has stopped.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served
                .await
                .expect("the server task does not panic")
                .expect("the server stops cleanly");
        }
    }
}

/// What an awc WebSocket connection is, without naming its codec crate.
pub trait TestFrames:
    Stream<Item = Result<Frame, awc::error::WsProtocolError>>
    + Sink<Message, Error = awc::error::WsProtocolError>
    + Unpin
{
}

impl<T> TestFrames for T where
    T: Stream<Item = Result<Frame, awc::error::WsProtocolError>>
        + Sink<Message, Error = awc::error::WsProtocolError>
        + Unpin
{
}

/// A WebSocket client that answers pings and reads tally frames.
pub struct TestSocket<F> {
    frames: F,
}

/// What a socket received next that is not a ping.
#[derive(Debug)]
pub enum Received {
    Tally(Value),
    Closed(Option<CloseReason>),
}

impl<F: TestFrames> TestSocket<F> {
    pub fn from_frames(frames: F) -> TestSocket<F> {
        TestSocket { frames }
    }

    pub async fn receive(&mut self) -> Received {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.frames.next())
                .await
                .expect("a frame arrives in time");
            match frame {
                Some(Ok(Frame::Text(text))) => {
                    return Received::Tally(
                        serde_json::from_slice(&text).expect("frames are JSON"),
                    );
                }
                Some(Ok(Frame::Ping(bytes))) => {
                    let _ = self.frames.send(Message::Pong(bytes)).await;
                }
                Some(Ok(Frame::Close(reason))) => return Received::Closed(reason),
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
                Some(Err(err)) => panic!("WebSocket error {err}"),
                None => return Received::Closed(None),
            }
        }
    }

    pub async fn next_tally(&mut self) -> Value {
        match self.receive().await {
            Received::Tally(tally) => tally,
            Received::Closed(reason) => panic!("the socket closed: {reason:?}"),
        }
    }

    /// Reads frames until one shows these counts.
    pub async fn wait_for(&mut self, a: i64, b: i64) -> Value {
        let expected = tally_json(a, b);
        loop {
            let tally = self.next_tally().await;
            if tally == expected {
                return tally;
            }
        }
    }
}

/// A response header that must be there, as text.
pub fn header<'a>(headers: &'a awc::http::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("the response has no {name} header"))
        .to_str()
        .expect("our headers are visible ASCII")
}

/// The frame of SPEC section 5 for these counts.
pub fn tally_json(a: i64, b: i64) -> Value {
    json!({"counts": {"a": a, "b": b}, "total": a + b})
}

/// The result binary with `DATABASE_URL` and the variables in `env`, on a free port, its JSON
/// log on a piped stdout and its errors on a piped stderr.
pub fn spawn_binary(database_url: &str, env: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_result"))
        .env("PORT", "0")
        .env("DATABASE_URL", database_url)
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_DRAIN_SECONDS", "0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the result binary starts")
}
