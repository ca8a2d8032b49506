//! Health, readiness and the graceful stop of SPEC section 6.

use std::{future::Future, io, sync::Arc, time::Duration};

use actix_web::{HttpResponse, dev::Server, web};
use tokio::{
    signal::unix::{Signal, SignalKind, signal},
    sync::watch,
    time::Instant,
};

/// How long in-flight requests get to finish once the listener closes. With the drain, this
/// keeps the whole stop under the 10 s of SPEC section 6 (and Kubernetes' default 30 s grace).
pub const IN_FLIGHT_GRACE_SECS: u64 = 5;
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(IN_FLIGHT_GRACE_SECS);

/// SPEC section 6: from the stop signal to the process's exit, whatever hangs.
pub const STOP_BOUND: Duration = Duration::from_secs(10);

/// What the orderly stop leaves of [`STOP_BOUND`] for the runtime's teardown and the exit
/// itself: every wait of the stop path ends by [`Lifecycle::deadline`], this much earlier.
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// When the exit watchdog of [`StopSignals::received`] ends a process whose orderly stop is
/// still not done: after the orderly deadline, and early enough that the exit itself still
/// lands inside [`STOP_BOUND`].
const WATCHDOG_AFTER: Duration = Duration::from_millis(9_500);

/// The line the watchdog logs; tests look for it to prove the orderly stop kept its deadline.
pub const WATCHDOG_MESSAGE: &str = "the stop deadline passed; exiting now";

/// Whether the program is stopping, and since when. Cheap to clone; every clone sees the same
/// state.
#[derive(Clone)]
pub struct Lifecycle {
    /// When the stop began, once it has.
    stopping_since: Arc<watch::Sender<Option<Instant>>>,
}

impl Lifecycle {
    pub fn new() -> Self {
        Lifecycle {
            stopping_since: Arc::new(watch::Sender::new(None)),
        }
    }

    /// Turns readiness to 503, starts the stop's clock (the first call only) and wakes
    /// everything waiting in [`Lifecycle::stopped`]. Called the moment the signal arrives, so
    /// the clock is the signal's.
    pub fn begin_shutdown(&self) {
        self.stopping_since.send_if_modified(|since| {
            let first = since.is_none();
            if first {
                *since = Some(Instant::now());
            }
            first
        });
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping_since.borrow().is_some()
    }

    /// The one deadline that every wait of the stop path shares: [`STOP_BOUND`] after the
    /// stop began, less the margin the exit needs. `None` while not stopping.
    pub fn deadline(&self) -> Option<Instant> {
        self.stopping_since
            .borrow()
            .map(|since| since + STOP_BOUND - EXIT_MARGIN)
    }

    /// Resolves once [`Lifecycle::begin_shutdown`] has been called (at once if it was), with
    /// the stop's deadline.
    pub async fn stopped(&self) -> Instant {
        let mut receiver = self.stopping_since.subscribe();
        // The sender lives in `self`, so it cannot be dropped while we wait.
        let since = *receiver
            .wait_for(Option::is_some)
            .await
            .expect("the sender lives as long as self");
        since.expect("wait_for returned a stopping state") + STOP_BOUND - EXIT_MARGIN
    }

    /// Runs `work` to its end, or until the stop's deadline if the program is stopping by
    /// then (`None`). Every wait of a stop path goes through this, so that together they
    /// cannot outlast the deadline.
    pub async fn within_deadline<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(work);
        tokio::select! {
            biased;
            done = &mut work => Some(done),
            deadline = self.stopped() => tokio::time::timeout_at(deadline, work).await.ok(),
        }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

/// The SIGTERM and SIGINT handlers. Installed first thing in `main`, so that a stop signal
/// during start-up (a database that never answers, say) ends the process with status 0
/// instead of the signal's default action.
pub struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl StopSignals {
    /// Must run inside the Tokio runtime.
    pub fn install() -> io::Result<StopSignals> {
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    /// Waits for `starting` (building the application), unless a stop signal comes first:
    /// then `None`, and the program should return with status 0.
    pub async fn unless_stopped<T>(&mut self, starting: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            signal = self.next() => {
                tracing::info!(signal, "stop requested during start-up; exiting");
                None
            }
            started = starting => Some(started),
        }
    }

    /// Resolves on the first stop signal, after logging it and arming the exit watchdog: a
    /// thread that ends the process with status 0 if the orderly stop, which keeps to
    /// [`Lifecycle::deadline`], somehow has not finished just before [`STOP_BOUND`].
    pub async fn received(mut self) {
        let signal = self.next().await;
        tracing::info!(signal, "shutdown requested");
        std::thread::spawn(|| {
            std::thread::sleep(WATCHDOG_AFTER);
            tracing::error!("{WATCHDOG_MESSAGE}");
            std::process::exit(0);
        });
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

/// Runs an actix `server` (built with `disable_signals()`) until `shutdown` resolves, then
/// stops it the way SPEC section 6 asks: readiness 503 at once, still serving for `shutdown_drain`,
/// then no new connections and in-flight requests allowed to finish, all by the stop's
/// deadline.
pub async fn serve_until(
    server: Server,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()>,
    shutdown_drain: Duration,
) -> io::Result<()> {
    let handle = server.handle();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    lifecycle.begin_shutdown();
    let deadline = lifecycle
        .deadline()
        .expect("begin_shutdown has just been called");
    // However long a drain is configured, in-flight requests keep their grace inside the
    // deadline.
    let drain_end = (Instant::now() + shutdown_drain).min(deadline - IN_FLIGHT_GRACE);
    tracing::info!(
        shutdown_drain_ms = drain_end
            .saturating_duration_since(Instant::now())
            .as_millis() as u64,
        "stopping: readiness is now 503"
    );
    tokio::select! {
        result = &mut server => return result,
        () = tokio::time::sleep_until(drain_end) => {}
    }
    match lifecycle
        .within_deadline(async { tokio::join!(server, handle.stop(true)).0 })
        .await
    {
        Some(result) => {
            tracing::info!("stopped");
            result
        }
        None => {
            tracing::warn!("in-flight requests did not finish by the stop deadline");
            Ok(())
        }
    }
}
