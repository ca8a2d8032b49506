//! `GET /ws`: one task per socket sends the tally on connect and after every change.
//!
//! Nothing a client does can hold up anything but its own socket, and not for long: every
//! send has a time limit, a client that cannot take a frame within it is dropped, and so is a
//! client that answers no ping. A cap on open sockets bounds what one replica holds.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use actix_ws::{CloseCode, CloseReason, Closed, Message, MessageStream, Session};
use ballot::Tally;
use futures_util::StreamExt;
use service_kit::{
    config::ConfigError, environment::Environment, http::error_page, lifecycle::Lifecycle,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::metrics::ResultMetrics;

/// How often the server pings each client and re-sends it the tally. Proxies commonly cut
/// connections idle for 60 s; 10 s keeps them open, finds dead peers quickly, and lets the page
/// notice a half-open socket within 25 s.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);

/// The longest heartbeat allowed: one that still keeps a connection under the 60 s after which
/// proxies commonly cut it. (The page learns the interval from the page itself.)
const MAX_HEARTBEAT: Duration = Duration::from_secs(30);

/// A client silent for this long (no pong, no message), or unable to take a frame for this
/// long, is gone: its socket is dropped so that dead sockets (a phone that went into a tunnel)
/// and stalled ones do not pile up. Three missed pings.
const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The benchmark's 10,000 sockets take about 155 MiB (docs/result.md); past that a replica
/// refuses new sockets and the pages retry, reaching another replica or this one later.
const DEFAULT_MAX_SOCKETS: usize = 10_000;

/// Clients send nothing but control frames; anything bigger than this is not our page.
const MAX_CLIENT_FRAME: usize = 4 * 1024;

/// The socket settings, from `SOCKET_HEARTBEAT_SECONDS`, `SOCKET_CLIENT_TIMEOUT_SECONDS` and
/// `MAX_SOCKETS`.
#[derive(Debug, Clone, Copy)]
pub struct SocketSettings {
    pub heartbeat: Duration,
    pub client_timeout: Duration,
    pub max_sockets: usize,
}

impl SocketSettings {
    pub fn from_environment(environment: &Environment) -> Result<SocketSettings, ConfigError> {
        let heartbeat = environment.seconds("SOCKET_HEARTBEAT_SECONDS")?;
        if heartbeat.is_zero() || heartbeat > MAX_HEARTBEAT {
            return Err(ConfigError {
                name: "SOCKET_HEARTBEAT_SECONDS",
                value: Some(heartbeat.as_secs_f64().to_string()),
                reason: format!(
                    "must be more than 0 and at most {}",
                    MAX_HEARTBEAT.as_secs()
                ),
            });
        }
        let client_timeout = environment.seconds("SOCKET_CLIENT_TIMEOUT_SECONDS")?;
        if client_timeout <= heartbeat {
            return Err(ConfigError {
                name: "SOCKET_CLIENT_TIMEOUT_SECONDS",
                value: Some(client_timeout.as_secs_f64().to_string()),
                reason: "must be longer than SOCKET_HEARTBEAT_SECONDS, or every client is \
                         dropped before its first pong"
                    .to_owned(),
            });
        }
        let max_sockets = environment.parse("MAX_SOCKETS")?;
        Ok(SocketSettings {
            heartbeat,
            client_timeout,
            max_sockets,
        })
    }
}

impl Default for SocketSettings {
    fn default() -> Self {
        SocketSettings {
            heartbeat: DEFAULT_HEARTBEAT,
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            max_sockets: DEFAULT_MAX_SOCKETS,
        }
    }
}

/// The replica's sockets: their settings, and a slot for each socket it may hold. Built once
/// and shared by every actix worker, so the cap is per replica.
#[derive(Clone)]
pub struct Sockets {
    settings: SocketSettings,
    slots: Arc<Semaphore>,
}

impl Sockets {
    pub fn new(settings: SocketSettings) -> Sockets {
        Sockets {
            settings,
            slots: Arc::new(Semaphore::new(settings.max_sockets)),
        }
    }
}

pub async fn socket(
    req: HttpRequest,
    body: web::Payload,
    tally: web::Data<watch::Receiver<Tally>>,
    lifecycle: web::Data<Lifecycle>,
    metrics: web::Data<ResultMetrics>,
    sockets: web::Data<Sockets>,
) -> actix_web::Result<HttpResponse> {
    if lifecycle.is_stopping() {
        // The page retries with backoff and reaches a replica that is not stopping.
        return Ok(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "This replica is shutting down; try again.",
        ));
    }
    let Ok(slot) = Arc::clone(&sockets.slots).try_acquire_owned() else {
        // Answered before the upgrade, so the page sees a failed connection and retries with
        // its backoff and jitter, as for any other drop.
        return Ok(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "This replica has as many live pages open as it allows; try again shortly.",
        ));
    };
    let (response, session, messages) = actix_ws::handle(&req, body)?;
    let connection = Connection {
        session,
        lifecycle: lifecycle.get_ref().clone(),
        metrics: metrics.get_ref().clone(),
        settings: sockets.settings,
    };
    actix_web::rt::spawn(connection.serve(
        messages.max_frame_size(MAX_CLIENT_FRAME),
        tally.get_ref().clone(),
        slot,
    ));
    Ok(response)
}

/// Why a socket's exchange ended.
enum End {
    /// Send this close frame, then end: the client goes away, or the service stops.
    Close(Option<CloseReason>),
    /// The connection is gone already, or the client cannot take a frame: nothing more can be
    /// sent, and waiting to would hold the socket.
    Drop,
}

struct Connection {
    session: Session,
    lifecycle: Lifecycle,
    metrics: ResultMetrics,
    settings: SocketSettings,
}

impl Connection {
    async fn serve(
        mut self,
        messages: MessageStream,
        tally: watch::Receiver<Tally>,
        _slot: OwnedSemaphorePermit,
    ) {
        let _open = self.metrics.socket_opened();
        if let End::Close(reason) = self.exchange(messages, tally).await {
            // The peer may be gone already, or unable to take the close; nothing is left to
            // do either way.
            let _ = deliver(&self.lifecycle, self.settings, self.session.close(reason)).await;
        }
    }

    /// Runs the socket until it should end.
    async fn exchange(
        &mut self,
        mut messages: MessageStream,
        mut tally: watch::Receiver<Tally>,
    ) -> End {
        let snapshot = *tally.borrow_and_update();
        if let Err(end) = self.send_tally(snapshot).await {
            return end;
        }
        let heartbeat_every = self.settings.heartbeat;
        let mut heartbeat = tokio::time::interval_at(
            tokio::time::Instant::now() + heartbeat_every,
            heartbeat_every,
        );
        let mut last_heard = Instant::now();
        let lifecycle = self.lifecycle.clone();
        let stopped = lifecycle.stopped();
        tokio::pin!(stopped);
        loop {
            let sent = tokio::select! {
                _ = &mut stopped => return End::Close(Some(CloseCode::Away.into())),
                changed = tally.changed() => {
                    if changed.is_err() {
                        // The feed is gone: the service is stopping.
                        return End::Close(Some(CloseCode::Away.into()));
                    }
                    // The newest tally, however many changes happened since the last send.
                    let newest = *tally.borrow_and_update();
                    self.send_tally(newest).await
                }
                message = messages.next() => match message {
                    Some(Ok(Message::Ping(bytes))) => {
                        last_heard = Instant::now();
                        let session = &mut self.session;
                        deliver(&self.lifecycle, self.settings, session.pong(&bytes)).await
                    }
                    Some(Ok(Message::Close(reason))) => return End::Close(reason),
                    Some(Ok(_)) => {
                        last_heard = Instant::now();
                        Ok(())
                    }
                    Some(Err(_)) | None => return End::Drop,
                },
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > self.settings.client_timeout {
                        tracing::debug!("dropping a WebSocket client that stopped answering pings");
                        return End::Close(Some(CloseCode::Away.into()));
                    }
                    self.heartbeat(*tally.borrow()).await
                }
            };
            if let Err(end) = sent {
                return end;
            }
        }
    }

    /// A ping, which the browser answers by itself, and the current tally again: scripts
    /// cannot see pings, and the page counts the silence between frames to notice a socket
    /// that died without a close (a projector whose Wi-Fi roamed). The frame is the tally
    /// frame of SPEC section 5, so a client that only reads counts redraws the same numbers.
    async fn heartbeat(&mut self, current: Tally) -> Result<(), End> {
        let session = &mut self.session;
        deliver(&self.lifecycle, self.settings, session.ping(b"")).await?;
        self.send_tally(current).await
    }

    async fn send_tally(&mut self, tally: Tally) -> Result<(), End> {
        let session = &mut self.session;
        deliver(
            &self.lifecycle,
            self.settings,
            session.text(tally.to_json()),
        )
        .await?;
        self.metrics.frame_sent();
        Ok(())
    }
}

/// Waits for a send to be taken, within the client timeout and, once the service is stopping,
/// within the stop's deadline: a client whose connection is full (it stopped reading, its
/// network stalled) is dropped rather than left to hold its task, so that its heartbeat and
/// its close still run, and the stop is never held up by it.
async fn deliver(
    lifecycle: &Lifecycle,
    settings: SocketSettings,
    sending: impl Future<Output = Result<(), Closed>>,
) -> Result<(), End> {
    match lifecycle
        .within_deadline(tokio::time::timeout(settings.client_timeout, sending))
        .await
    {
        Some(Ok(sent)) => sent.map_err(|Closed| End::Drop),
        Some(Err(_)) | None => {
            tracing::debug!("dropping a WebSocket client that cannot take frames");
            Err(End::Drop)
        }
    }
}
