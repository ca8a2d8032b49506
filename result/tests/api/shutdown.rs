//! The real binary, stopped by a real SIGTERM (SPEC section 6).

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use awc::ws::CloseCode;
use service_kit::lifecycle::WATCHDOG_MESSAGE;
use test_support::{LogLines, PATIENCE, POSTGRES_ADDRESS, TcpProxy};
use tokio::process::{Child, Command};

use crate::helpers::{Database, Received, Schema, spawn_binary, tally_json};

/// SPEC section 6: the process exits within 10 s of the signal.
pub const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[actix_web::test]
async fn sigterm_closes_sockets_with_1001_refuses_new_ones_and_exits_cleanly() {
    let database = Database::create(Schema::Worker).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_result"))
        .env("PORT", "0")
        .env("DATABASE_URL", database.url())
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_DRAIN_SECONDS", "3")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the result binary starts");
    let port = listening_port(&mut child).await;
    let client = awc::Client::default();
    let (_, frames) = client
        .ws(format!("ws://127.0.0.1:{port}/ws"))
        .connect()
        .await
        .expect("the WebSocket handshake succeeds");
    let mut socket = crate::helpers::TestSocket::from_frames(frames);
    assert_eq!(socket.next_tally().await, tally_json(0, 0));

    let signalled = sigterm(&child).await;

    match socket.receive().await {
        Received::Closed(Some(reason)) => assert_eq!(reason.code, CloseCode::Away),
        other => panic!("expected a 1001 close, got {other:?}"),
    }
    // Still serving during the drain, but no longer ready.
    let readiness = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .expect("the service still answers during the drain");
    assert_eq!(readiness.status(), 503);
    // A page that reconnects now is sent elsewhere rather than to a replica about to go.
    match client
        .ws(format!("ws://127.0.0.1:{port}/ws"))
        .connect()
        .await
    {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status, 503)
        }
        Err(err) => panic!("expected a 503 answer, got {err}"),
        Ok(_) => panic!("a stopping replica accepted a new WebSocket"),
    }
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the process exits")
        .expect("waiting for the process");
    assert!(status.success(), "exit status {status}");
    assert!(
        signalled.elapsed() < EXIT_LIMIT,
        "{:?}",
        signalled.elapsed()
    );
}

/// Reads the JSON log until the "listening" line, which names the port PORT=0 picked; the
/// log is read on to its end, so that the process never blocks on a full pipe.
async fn listening_port(child: &mut Child) -> u16 {
    let log = LogLines::capture(child);
    port_of(&log).await
}

pub async fn port_of(log: &LogLines) -> u16 {
    log.wait_for_message("listening").await["port"]
        .as_u64()
        .expect("the line has the port") as u16
}

/// Sends SIGTERM; returns when.
async fn sigterm(child: &Child) -> Instant {
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().expect("running").to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());
    signalled
}

/// Waits for the exit, and asserts SPEC section 6: status 0 within 10 s of the signal, by the
/// orderly stop rather than the exit watchdog.
async fn assert_clean_exit(child: &mut Child, signalled: Instant, log: &LogLines) {
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the process exits")
        .expect("waiting for the process");
    let elapsed = signalled.elapsed();
    assert!(
        status.success(),
        "exit status {status}; the log:\n{}",
        log.text()
    );
    assert!(elapsed < EXIT_LIMIT, "{elapsed:?}");
    assert!(!log.text().contains(WATCHDOG_MESSAGE), "{}", log.text());
}

#[actix_web::test]
async fn sigterm_while_the_database_never_answers_at_start_up_exits_cleanly() {
    let database = Database::create(Schema::Worker).await;
    // Accepts connections and never says a word.
    let silent = TcpProxy::start(POSTGRES_ADDRESS).await;
    silent.freeze();
    let mut child = spawn_binary(&database.url_via(silent.address), &[]);
    let log = LogLines::capture(&mut child);
    log.wait_for_message("starting the result service").await;

    let signalled = sigterm(&child).await;

    assert_clean_exit(&mut child, signalled, &log).await;
}

#[actix_web::test]
async fn sigterm_while_the_database_hangs_exits_cleanly_in_time() {
    let database = Database::create(Schema::Worker).await;
    database.write_batch(&[("f1", "a")]).await;
    let proxy = TcpProxy::start(POSTGRES_ADDRESS).await;
    // A fast poll, so that reads are in flight on the frozen connections when the signal comes.
    let mut child = spawn_binary(
        &database.url_via(proxy.address),
        &[
            ("TALLY_POLL_SECONDS", "0.2"),
            ("SHUTDOWN_DRAIN_SECONDS", "3"),
        ],
    );
    let log = LogLines::capture(&mut child);
    let port = port_of(&log).await;
    let (_, frames) = awc::Client::default()
        .ws(format!("ws://127.0.0.1:{port}/ws"))
        .connect()
        .await
        .expect("the WebSocket handshake succeeds");
    let mut socket = crate::helpers::TestSocket::from_frames(frames);
    socket.wait_for(1, 0).await;
    proxy.freeze();
    // Let the reads and the LISTEN check get stuck on the frozen connections.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let signalled = sigterm(&child).await;

    assert_clean_exit(&mut child, signalled, &log).await;
}
