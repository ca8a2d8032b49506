//! What a socket does when its client misbehaves (SPEC section 5): slow clients skip to the
//! newest tally and stall no one, heartbeats drop dead sockets, and a replica holds no more
//! sockets than it allows.

use std::{
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use awc::{
    error::WsClientError,
    ws::{CloseCode, Frame, Message},
};
use futures_util::{Sink, SinkExt, Stream, StreamExt, stream::LocalBoxStream};
use serde_json::Value;
use test_support::{LogLines, PATIENCE, wait_until_async};

use service_kit::lifecycle::WATCHDOG_MESSAGE;
use tokio::process::Command;

use crate::{
    helpers::{Database, Received, Schema, TestApp, TestSocket, tally_json},
    shutdown::{EXIT_LIMIT, port_of},
};

/// The largest payload a ping may carry (RFC 6455), which the server echoes in its pong: the
/// fewest pings that fill a connection the client does not read.
const PING_PAYLOAD: [u8; 125] = [0; 125];

/// A flood whose pings have not moved for this long has filled every buffer between the two
/// ends: the server has stopped reading because its socket task cannot send the pongs.
const STALLED_AFTER: Duration = Duration::from_secs(2);

/// Short enough for a test to wait through, long enough for a debug build to send a frame.
const SHORT_CLIENT_TIMEOUT: Duration = Duration::from_secs(2);
const SHORT_HEARTBEAT: Duration = Duration::from_millis(250);

/// A client that floods the server with pings and reads nothing: the pongs pile up until the
/// server's socket task can send this client nothing more, as with a client whose network has
/// stalled. It can start reading later.
struct StalledClient {
    frames: LocalBoxStream<'static, FrameResult>,
    pings_sent: Arc<AtomicUsize>,
    flood: tokio::task::JoinHandle<()>,
}

impl TestApp {
    async fn stalled_client(&self) -> StalledClient {
        let (_, framed) = self
            .client
            .ws(format!("ws://127.0.0.1:{}/ws", self.port))
            .connect()
            .await
            .expect("the WebSocket handshake succeeds");
        StalledClient::flooding(framed).await
    }

    /// `result_websockets_open` as `/metrics` shows it.
    async fn open_sockets(&self) -> i64 {
        self.metric("result_websockets_open").await
    }

    async fn frames_sent(&self) -> i64 {
        self.metric("result_websocket_frames_sent_total").await
    }

    async fn metric(&self, name: &str) -> i64 {
        let (_, body, _) = self.get("/metrics").await;
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("/metrics has no {name}:\n{body}"))
            .parse()
            .expect("the metric is an integer")
    }

    /// Waits until `/metrics` shows this many open sockets.
    async fn wait_for_open_sockets(&self, expected: i64) {
        wait_until_async(&format!("{expected} open sockets"), async || {
            self.open_sockets().await == expected
        })
        .await;
    }
}

type FrameResult = Result<Frame, awc::error::WsProtocolError>;

impl StalledClient {
    async fn flooding(
        framed: impl Sink<Message, Error = awc::error::WsProtocolError>
        + Stream<Item = FrameResult>
        + 'static,
    ) -> StalledClient {
        let (mut sink, frames) = framed.split();
        let pings_sent = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pings_sent);
        let flood = actix_web::rt::spawn(async move {
            let ping = actix_web::web::Bytes::from_static(&PING_PAYLOAD);
            while sink.send(Message::Ping(ping.clone())).await.is_ok() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let client = StalledClient {
            frames: frames.boxed_local(),
            pings_sent,
            flood,
        };
        client.wait_until_stalled().await;
        client
    }

    async fn wait_until_stalled(&self) {
        let deadline = Instant::now() + PATIENCE;
        let mut last = self.pings_sent.load(Ordering::Relaxed);
        loop {
            actix_web::rt::time::sleep(STALLED_AFTER).await;
            let now = self.pings_sent.load(Ordering::Relaxed);
            if now == last && now > 0 {
                return;
            }
            assert!(Instant::now() < deadline, "the ping flood never stalled");
            last = now;
        }
    }

    /// Starts reading: skips the pongs, returns the next tally frame or the close.
    async fn receive(&mut self) -> Received {
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
                Some(Ok(Frame::Close(reason))) => return Received::Closed(reason),
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("WebSocket error {err}"),
                None => return Received::Closed(None),
            }
        }
    }

    async fn next_tally(&mut self) -> Value {
        match self.receive().await {
            Received::Tally(tally) => tally,
            Received::Closed(reason) => panic!("the socket closed: {reason:?}"),
        }
    }
}

impl Drop for StalledClient {
    fn drop(&mut self) {
        self.flood.abort();
    }
}

#[actix_web::test]
async fn a_client_that_stops_reading_skips_to_the_newest_tally_and_stalls_no_one() {
    let app = TestApp::spawn(Schema::Worker).await;
    let mut stalled = app.stalled_client().await;
    let mut live = app.connect_socket_at_zero().await;
    let frames_before = app.frames_sent().await;

    for (batch, voter) in ["s1", "s2", "s3"].into_iter().enumerate() {
        app.database.write_batch(&[(voter, "a")]).await;
        let a = batch as i64 + 1;
        assert_eq!(live.next_tally().await, tally_json(a, 0));
    }
    // Only the live client got those three frames: the stalled one's task is still waiting
    // to hand over a pong.
    assert_eq!(app.frames_sent().await - frames_before, 3);

    // Its snapshot from before it stopped reading, then the newest tally and nothing between.
    assert_eq!(stalled.next_tally().await, tally_json(0, 0));
    assert_eq!(stalled.next_tally().await, tally_json(3, 0));
    assert_eq!(app.frames_sent().await - frames_before, 4);
}

#[actix_web::test]
async fn a_client_that_cannot_take_a_frame_within_the_client_timeout_is_dropped() {
    let app = TestApp::spawn_with(Schema::Worker, |settings| {
        settings.sockets.client_timeout = SHORT_CLIENT_TIMEOUT;
    })
    .await;
    let mut live = app.connect_socket_at_zero().await;
    // The flood keeps the stalled client "heard" (a ping is a sign of life): only the send's
    // own time limit can drop it.
    let _stalled = app.stalled_client().await;

    app.wait_for_open_sockets(1).await;

    app.database.write_batch(&[("d1", "b")]).await;
    assert_eq!(live.next_tally().await, tally_json(0, 1));
}

#[actix_web::test]
async fn a_client_that_stops_answering_pings_is_closed_after_the_client_timeout() {
    let app = TestApp::spawn_with(Schema::Worker, |settings| {
        settings.sockets.heartbeat = SHORT_HEARTBEAT;
        settings.sockets.client_timeout = SHORT_CLIENT_TIMEOUT;
    })
    .await;
    let (_, mut silent) = app
        .client
        .ws(format!("ws://127.0.0.1:{}/ws", app.port))
        .connect()
        .await
        .expect("the WebSocket handshake succeeds");
    let connected = Instant::now();
    assert_eq!(app.open_sockets().await, 1);

    // The client reads nothing and answers no ping from here on.
    app.wait_for_open_sockets(0).await;
    let dropped_after = connected.elapsed();

    assert!(
        dropped_after >= SHORT_CLIENT_TIMEOUT,
        "dropped after {dropped_after:?}, before the client timeout"
    );
    // What it would have read: the snapshot, pings and the heartbeat's tallies, then 1001.
    let close = loop {
        match silent.next().await {
            Some(Ok(Frame::Close(reason))) => break reason,
            Some(Ok(Frame::Text(_) | Frame::Ping(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|reason| reason.code), Some(CloseCode::Away));
}

#[actix_web::test]
async fn a_client_that_answers_pings_stays_and_gets_the_tally_every_heartbeat() {
    let app = TestApp::spawn_with(Schema::Worker, |settings| {
        settings.sockets.heartbeat = SHORT_HEARTBEAT;
        settings.sockets.client_timeout = SHORT_CLIENT_TIMEOUT;
    })
    .await;
    let mut socket = app.connect_socket_at_zero().await;
    let started = Instant::now();

    // Without a change, the tally comes again with each heartbeat: the page's sign of life.
    // (Pings alone would keep `next_tally` waiting for ever, hence the limit on each frame.)
    let mut frames = 0;
    while started.elapsed() < SHORT_CLIENT_TIMEOUT * 2 {
        let tally = tokio::time::timeout(SHORT_CLIENT_TIMEOUT, socket.next_tally())
            .await
            .expect("the heartbeat re-sends the tally");
        assert_eq!(tally, tally_json(0, 0));
        frames += 1;
    }

    assert!(frames >= 4, "{frames} frames in {:?}", started.elapsed());
    assert_eq!(app.open_sockets().await, 1);
}

#[actix_web::test]
async fn sockets_beyond_the_cap_get_a_503_until_one_closes() {
    let app = TestApp::spawn_with(Schema::Worker, |settings| {
        settings.sockets.max_sockets = 2;
    })
    .await;
    let _first = app.connect_socket_at_zero().await;
    let second = app.connect_socket_at_zero().await;

    match app
        .client
        .ws(format!("ws://127.0.0.1:{}/ws", app.port))
        .connect()
        .await
    {
        Err(WsClientError::InvalidResponseStatus(status)) => assert_eq!(status, 503),
        Err(err) => panic!("expected a 503 answer, got {err}"),
        Ok(_) => panic!("a third socket was accepted past a cap of 2"),
    }
    let (status, body, _) = app.get("/ws").await;
    assert_eq!(status, 503);
    assert!(body.contains("try again"), "{body}");

    drop(second);
    app.wait_for_open_sockets(1).await;
    let mut third = app.connect_socket().await;
    assert_eq!(third.next_tally().await, tally_json(0, 0));
}

#[actix_web::test]
async fn a_stalled_client_gets_its_1001_within_the_stop_deadline_and_the_exit_waits_for_nothing() {
    let database = Database::create(Schema::Worker).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_result"))
        .env("PORT", "0")
        .env("DATABASE_URL", database.url())
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_DRAIN_SECONDS", "0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the result binary starts");
    let log = LogLines::capture(&mut child);
    let port = port_of(&log).await;
    let client = awc::Client::default();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (_, frames) = client.ws(&url).connect().await.expect("a handshake");
    let mut live = TestSocket::from_frames(frames);
    assert_eq!(live.next_tally().await, tally_json(0, 0));
    let (_, framed) = client.ws(&url).connect().await.expect("a handshake");
    let mut stalled = StalledClient::flooding(framed).await;

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().expect("running").to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());

    match live.receive().await {
        Received::Closed(Some(reason)) => assert_eq!(reason.code, CloseCode::Away),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    // The stalled client reads again: behind the pongs it could not take is its 1001.
    let close = loop {
        match stalled.receive().await {
            Received::Tally(_) => continue,
            Received::Closed(reason) => break reason,
        }
    };
    assert_eq!(close.map(|reason| reason.code), Some(CloseCode::Away));
    assert!(
        signalled.elapsed() < EXIT_LIMIT,
        "the 1001 came {:?} after the signal",
        signalled.elapsed()
    );
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the process exits")
        .expect("waiting for the process");
    let exited_after = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        exited_after < EXIT_LIMIT,
        "exited {exited_after:?} after the signal"
    );
    let logs = log.text();
    assert!(!logs.contains(WATCHDOG_MESSAGE), "{logs}");
}
