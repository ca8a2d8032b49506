//! The real binary, stopped by a real SIGTERM (SPEC section 6).

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use awc::ws::CloseCode;
use test_support::PATIENCE;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::helpers::{Database, Received, Schema, tally_json};

/// SPEC section 6: the process exits within 10 s of the signal.
pub const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[actix_web::test]
async fn sigterm_closes_sockets_with_1001_refuses_new_ones_and_exits_cleanly() {
    let database = Database::create(Schema::Tally).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_result"))
        .env("PORT", "0")
        .env("DATABASE_URL", database.url())
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_DRAIN_SECONDS", "3")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the result binary starts");
    let port = listening_port(&mut child, Arc::default()).await;
    let client = awc::Client::default();
    let (_, frames) = client
        .ws(format!("ws://127.0.0.1:{port}/ws"))
        .connect()
        .await
        .expect("the WebSocket handshake succeeds");
    let mut socket = crate::helpers::TestSocket::from_frames(frames);
    assert_eq!(socket.next_tally().await, tally_json(0, 0));

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().expect("running").to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(kill.success());

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

/// Reads the JSON log until the "listening" line, which names the port PORT=0 picked, then
/// keeps draining the output so that the process never blocks on a full pipe. The lines after
/// it are kept in `rest`.
pub async fn listening_port(
    child: &mut tokio::process::Child,
    rest: Arc<Mutex<Vec<String>>>,
) -> u16 {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.expect("reading the log") {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening" {
                return entry["port"].as_u64().expect("the line has the port") as u16;
            }
        }
        panic!("the process ended before listening");
    })
    .await
    .expect("the service starts listening in time");
    actix_web::rt::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            rest.lock()
                .expect("no holder of the lock panics")
                .push(line);
        }
    });
    port
}
