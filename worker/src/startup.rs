//! Building the worker and running it until shutdown. Tests start it through exactly this code,
//! on port 0.

use std::{future::Future, net::TcpListener, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;
use deadpool_postgres::Pool;
use service_kit::{
    http::{not_found, operator_routes, security_headers},
    lifecycle::{self, IN_FLIGHT_GRACE_SECS, Lifecycle},
    metrics::{Metrics, observe},
};
use tokio::task::JoinHandle;

use crate::{
    configuration::Settings,
    drain::{self, Drain},
    health,
    queue::{Housekeeper, Queue, QueueKeys, new_worker_id},
    telemetry::WorkerMetrics,
};

/// The worker serves no traffic, only probes: readiness turning 503 needs no time for load
/// balancers to react, so the HTTP side stops at once.
const HTTP_DRAIN: Duration = Duration::ZERO;
/// SPEC section 6 gives 10 s from the signal to exit. The batch in hand normally commits in
/// milliseconds; if a backing service hangs, the drain is abandoned after this (its messages
/// are still in Redis) so the process still exits in time.
const DRAIN_STOP_LIMIT: Duration = Duration::from_secs(7);

pub struct Application {
    port: u16,
    server: Server,
    lifecycle: Lifecycle,
    drain: Drain,
    housekeeper: Housekeeper,
    pool: Pool,
    metrics: WorkerMetrics,
    housekeeping_period: Duration,
}

impl Application {
    /// Binds the port and prepares the connections. Waits for neither Redis nor PostgreSQL:
    /// the drain connects (and retries) once running.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.log_effective();
        // One crypto provider for the whole process (rustls with ring), for `rediss://`; the
        // PostgreSQL connector names ring itself. Fails only if one is installed already,
        // which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind(("0.0.0.0", settings.port))
            .with_context(|| format!("cannot listen on PORT={}", settings.port))?;
        let port = listener.local_addr()?.port();

        let redis = redis::Client::open(settings.redis_url.as_str())
            .context("REDIS_URL is not a valid Redis URL")?;
        let pool = crate::store::connection_pool(&settings.database);
        let worker_id = new_worker_id();
        let keys = QueueKeys::new(&settings.queue, &worker_id);
        let metrics = Metrics::new();
        let worker_metrics = WorkerMetrics::register(&metrics);
        let lifecycle = Lifecycle::new();

        let drain = Drain {
            queue: Queue::new(
                redis.clone(),
                keys.clone(),
                settings.batch_size,
                settings.lease,
            ),
            pool: pool.clone(),
            metrics: worker_metrics.clone(),
            lifecycle: lifecycle.clone(),
        };
        let housekeeper = Housekeeper::new(redis, keys, settings.lease);

        let metrics = web::Data::new(metrics);
        let worker_metrics_data = web::Data::new(worker_metrics.clone());
        let lifecycle_data = web::Data::new(lifecycle.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(metrics.clone())
                .app_data(worker_metrics_data.clone())
                .app_data(lifecycle_data.clone())
                .wrap(security_headers())
                .wrap(from_fn(observe))
                .configure(operator_routes(health::readyz))
                .default_service(web::to(not_found))
        })
        // Probes and scrapes only: one HTTP thread keeps the idle footprint small.
        .workers(1)
        .listen(listener)?
        // Signals are ours to handle: the batch in hand must finish first.
        .disable_signals()
        .shutdown_timeout(IN_FLIGHT_GRACE_SECS)
        .run();

        Ok(Application {
            port,
            server,
            lifecycle,
            drain,
            housekeeper,
            pool,
            metrics: worker_metrics,
            // A third of the lease: a lease survives two missed renewals, and a dead worker's
            // messages are recovered at most a lease plus this after its last renewal.
            housekeeping_period: settings.lease / 3,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drains and serves until `shutdown` resolves, then stops as SPEC section 6 says:
    /// readiness 503 at once, the batch in hand committed and acknowledged, anything still held
    /// given back to the queue, and exit.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let housekeeping: JoinHandle<Housekeeper> = tokio::spawn(drain::housekeeping(
            self.housekeeper,
            self.pool,
            self.metrics,
            self.lifecycle.clone(),
            self.housekeeping_period,
        ));
        let mut draining = tokio::spawn(self.drain.run());

        let lifecycle = &self.lifecycle;
        let serving = async {
            let served =
                lifecycle::serve_until(self.server, lifecycle.clone(), shutdown, HTTP_DRAIN).await;
            // The server also stops if it fails; the drain must stop with it.
            lifecycle.begin_shutdown();
            served
        };
        // The drain's time limit counts from the signal, while the HTTP side stops beside it.
        let finishing = async {
            lifecycle.stopped().await;
            if tokio::time::timeout(DRAIN_STOP_LIMIT, &mut draining)
                .await
                .is_err()
            {
                tracing::warn!("the batch in hand did not finish in time; it stays in Redis");
                draining.abort();
            }
        };
        let (served, ()) = tokio::join!(serving, finishing);
        let mut housekeeper = housekeeping
            .await
            .context("the housekeeping task panicked")?;
        match housekeeper.release_own().await {
            Ok(0) => {}
            Ok(messages) => tracing::info!(messages, "gave the unfinished batch back to the queue"),
            Err(err) => tracing::warn!(
                error = %err,
                "could not give back the unfinished batch; another worker will recover it \
                 when this worker's lease expires"
            ),
        }
        tracing::info!("worker stopped");
        served.context("the HTTP server failed")
    }
}
