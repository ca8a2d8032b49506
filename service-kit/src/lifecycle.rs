//! Health, readiness and the graceful stop of SPEC section 6.

use std::{future::Future, io, sync::Arc, time::Duration};

use actix_web::{HttpResponse, dev::Server, web};
use tokio::sync::watch;

/// How long a stopping program keeps serving while answering `/readyz` with 503, so that load
/// balancers (a Kubernetes Service's endpoints) move traffic away before connections close.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(3);

/// The drain from `SHUTDOWN_DRAIN_SECONDS`, [`DEFAULT_DRAIN`] when unset. Tests and
/// `docker compose` (no load balancer to wait for) can set it to 0.
pub fn drain_from_env() -> Result<Duration, crate::config::ConfigError> {
    crate::config::seconds_or("SHUTDOWN_DRAIN_SECONDS", DEFAULT_DRAIN)
}

/// How long in-flight requests get to finish once the listener closes. With the drain, this
/// keeps the whole stop under the 10 s of SPEC section 6 (and Kubernetes' default 30 s grace).
pub const IN_FLIGHT_GRACE_SECS: u64 = 5;

/// Whether the program is stopping. Cheap to clone; every clone sees the same state.
#[derive(Clone)]
pub struct Lifecycle {
    stopping: Arc<watch::Sender<bool>>,
}

impl Lifecycle {
    pub fn new() -> Self {
        Lifecycle {
            stopping: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Turns readiness to 503 and wakes everything waiting in [`Lifecycle::stopped`].
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once [`Lifecycle::begin_shutdown`] has been called (at once if it was).
    pub async fn stopped(&self) {
        let mut receiver = self.stopping.subscribe();
        // The sender lives in `self`, so it cannot be dropped while we wait.
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// `GET /readyz`: serving and not stopping.
pub async fn readyz(lifecycle: web::Data<Lifecycle>) -> HttpResponse {
    if lifecycle.is_stopping() {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("shutting down\n")
    } else {
        HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n")
    }
}

/// Resolves on the first SIGTERM or SIGINT, and says which.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).expect("installing a SIGTERM handler succeeds at start-up");
    let mut interrupt =
        signal(SignalKind::interrupt()).expect("installing a SIGINT handler succeeds at start-up");
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}

/// Runs an actix `server` (built with `disable_signals()`) until `shutdown` resolves, then
/// stops it the way SPEC section 6 asks: readiness 503 at once, still serving for `drain`,
/// then no new connections and in-flight requests allowed to finish.
pub async fn serve_until(
    server: Server,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> io::Result<()> {
    let handle = server.handle();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    tracing::info!(
        drain_ms = drain.as_millis() as u64,
        "stopping: readiness is now 503"
    );
    lifecycle.begin_shutdown();
    tokio::select! {
        result = &mut server => return result,
        () = tokio::time::sleep(drain) => {}
    }
    let (result, ()) = tokio::join!(server, handle.stop(true));
    tracing::info!("stopped");
    result
}
