//! `GET /ws`: one task per socket sends the tally on connect and after every change.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use actix_ws::{CloseCode, CloseReason, Closed, Message, MessageStream, Session};
use futures_util::StreamExt;
use service_kit::{http::error_page, lifecycle::Lifecycle};
use tokio::sync::watch;

use crate::{metrics::ResultMetrics, tally::Tally};

/// How often the server pings each client. Proxies commonly cut connections idle for 60 s;
/// a ping every 10 s keeps them open and finds dead peers quickly.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

/// A client silent for this long (no pong, no message) is gone: its connection is dropped so
/// that dead sockets (a phone that went into a tunnel) do not pile up. Three missed pings.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Clients send nothing but control frames; anything bigger than this is not our page.
const MAX_CLIENT_FRAME: usize = 4 * 1024;

pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    tally: web::Data<watch::Receiver<Tally>>,
    lifecycle: web::Data<Lifecycle>,
    metrics: web::Data<ResultMetrics>,
) -> actix_web::Result<HttpResponse> {
    if lifecycle.is_stopping() {
        // The page retries with backoff and reaches a replica that is not stopping.
        return Ok(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "This replica is shutting down; try again.",
        ));
    }
    let (response, session, messages) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(serve(
        session,
        messages.max_frame_size(MAX_CLIENT_FRAME),
        tally.get_ref().clone(),
        lifecycle.get_ref().clone(),
        metrics.get_ref().clone(),
    ));
    Ok(response)
}

async fn serve(
    mut session: Session,
    messages: MessageStream,
    tally: watch::Receiver<Tally>,
    lifecycle: Lifecycle,
    metrics: ResultMetrics,
) {
    let _open = metrics.socket_opened();
    if let Ok(reason) = exchange(&mut session, messages, tally, lifecycle, &metrics).await {
        // The peer may be gone already; nothing is left to do either way.
        let _ = session.close(reason).await;
    }
}

/// Runs the socket until it should close; returns the close reason to send, or `Closed` when
/// the connection is already gone.
async fn exchange(
    session: &mut Session,
    mut messages: MessageStream,
    mut tally: watch::Receiver<Tally>,
    lifecycle: Lifecycle,
    metrics: &ResultMetrics,
) -> Result<Option<CloseReason>, Closed> {
    let snapshot = *tally.borrow_and_update();
    send(session, snapshot, metrics).await?;
    let mut heartbeat = tokio::time::interval_at(
        tokio::time::Instant::now() + HEARTBEAT_INTERVAL,
        HEARTBEAT_INTERVAL,
    );
    let mut last_heard = Instant::now();
    let stopped = lifecycle.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return Ok(Some(CloseCode::Away.into())),
            changed = tally.changed() => {
                if changed.is_err() {
                    // The feed is gone: the service is stopping.
                    return Ok(Some(CloseCode::Away.into()));
                }
                // The newest tally, however many changes happened since the last send.
                let newest = *tally.borrow_and_update();
                send(session, newest, metrics).await?;
            }
            message = messages.next() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    last_heard = Instant::now();
                    session.pong(&bytes).await?;
                }
                Some(Ok(Message::Close(reason))) => return Ok(reason),
                Some(Ok(_)) => last_heard = Instant::now(),
                Some(Err(_)) | None => return Err(Closed),
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > CLIENT_TIMEOUT {
                    tracing::debug!("dropping a WebSocket client that stopped answering pings");
                    return Ok(Some(CloseCode::Away.into()));
                }
                session.ping(b"").await?;
            }
        }
    }
}

async fn send(session: &mut Session, tally: Tally, metrics: &ResultMetrics) -> Result<(), Closed> {
    session.text(tally.to_json()).await?;
    metrics.frame_sent();
    Ok(())
}
