//! Building the worker and running it until shutdown. Tests start it through exactly this code,
//! on port 0.

use std::{future::Future, time::Duration};

use actix_web::{dev::Server, web};
use anyhow::Context;
use deadpool_postgres::Pool;
use service_kit::{
    lifecycle::{self, Lifecycle},
    metrics::Metrics,
    server::WebServer,
};
use tokio::task::JoinHandle;

use crate::{
    configuration::Settings,
    consumer::{self, Consumer},
    health::{self, Health},
    metrics::WorkerMetrics,
    queue::{Housekeeper, Queue, QueueKeys, new_worker_id},
};

/// The worker serves no traffic, only probes: readiness turning 503 needs no time for load
/// balancers to react, so the HTTP side stops at once.
const SHUTDOWN_DRAIN: Duration = Duration::ZERO;
/// Of the stop's deadline, what the consumer leaves for the release that follows it: a single
/// Redis script, which answers in milliseconds. If a backing service hangs, the batch in hand
/// is abandoned this long before the deadline (its messages are still in Redis), so that the
/// release still gives them back at once when only PostgreSQL hangs.
const RELEASE_RESERVE: Duration = Duration::from_secs(1);

pub struct Application {
    port: u16,
    server: Server,
    lifecycle: Lifecycle,
    consumer: Consumer,
    housekeeper: Housekeeper,
    pool: Pool,
    health: Health,
    metrics: WorkerMetrics,
    housekeeping_period: Duration,
}

impl Application {
    /// Binds the port and prepares the connections. Waits for neither Redis nor PostgreSQL:
    /// the consumer connects (and retries) once running.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.log_effective();
        // One crypto provider for the whole process (rustls with ring), for `rediss://`; the
        // PostgreSQL connector names ring itself. Fails only if one is installed already,
        // which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Probes and scrapes only: one HTTP thread keeps the idle footprint small.
        let server = WebServer::bind(settings.port)?.workers(1);
        let port = server.port();

        let redis = redis::Client::open(settings.redis_url.as_str())
            .context("REDIS_URL is not a valid Redis URL")?;
        let pool = crate::store::connection_pool(&settings.database);
        let worker_id = new_worker_id();
        let keys = QueueKeys::new(&settings.queue, &worker_id);
        let metrics = Metrics::new(
            "worker",
            &service_kit::config::app_version(env!("CARGO_PKG_VERSION")),
        );
        let worker_metrics = WorkerMetrics::register(&metrics);
        let health = Health::new(&worker_metrics);
        let lifecycle = Lifecycle::new();
        metrics.register_ready("worker", {
            let (lifecycle, health) = (lifecycle.clone(), health.clone());
            move || health::not_ready_because(&lifecycle, &health).is_none()
        });

        let consumer = Consumer {
            queue: Queue::new(
                redis.clone(),
                keys.clone(),
                settings.batch_size,
                settings.lease,
            ),
            pool: pool.clone(),
            metrics: worker_metrics.clone(),
            health: health.clone(),
            lifecycle: lifecycle.clone(),
        };
        let housekeeper = Housekeeper::new(redis, keys, settings.lease);

        let health_data = web::Data::new(health.clone());
        let server = server.start(
            metrics,
            lifecycle.clone(),
            health::readyz,
            move |config: &mut web::ServiceConfig| {
                config.app_data(health_data.clone());
            },
        )?;

        Ok(Application {
            port,
            server,
            lifecycle,
            consumer,
            housekeeper,
            pool,
            health,
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
    /// given back to the queue, and exit, every wait of it by the stop's one deadline.
    ///
    /// The order of the stop is what keeps the blocking read from stranding a message: the
    /// consumer ends only once Redis has answered its read (see [`Queue::take`]), and only then
    /// does the release give back this worker's processing list and delete its lease.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let housekeeping: JoinHandle<Housekeeper> = tokio::spawn(consumer::housekeeping(
            self.housekeeper,
            self.pool,
            self.health,
            self.metrics,
            self.lifecycle.clone(),
            self.housekeeping_period,
        ));
        let mut consuming = tokio::spawn(self.consumer.run());

        let lifecycle = &self.lifecycle;
        let serving = async {
            let served =
                lifecycle::serve_until(self.server, lifecycle.clone(), shutdown, SHUTDOWN_DRAIN)
                    .await;
            // The server also stops if it fails; the consumer must stop with it.
            lifecycle.begin_shutdown();
            served
        };
        let finishing = async {
            let deadline = lifecycle.stopped().await;
            match tokio::time::timeout_at(deadline - RELEASE_RESERVE, &mut consuming).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::error!(error = %err, "the consumer task failed"),
                Err(_elapsed) => {
                    tracing::warn!("the batch in hand did not finish in time; it stays in Redis");
                    consuming.abort();
                }
            }
            // The housekeeping round in progress is abandoned at the stop: this is immediate.
            let housekeeper = match lifecycle.within_deadline(housekeeping).await {
                Some(Ok(housekeeper)) => housekeeper,
                Some(Err(err)) => {
                    tracing::error!(error = %err, "the housekeeping task failed");
                    return;
                }
                None => return,
            };
            release(housekeeper, lifecycle).await;
        };
        let (served, ()) = tokio::join!(serving, finishing);
        tracing::info!("worker stopped");
        served.context("the HTTP server failed")
    }
}

/// Gives back what this worker still holds, by the stop's deadline.
async fn release(mut housekeeper: Housekeeper, lifecycle: &Lifecycle) {
    let leftover = "another worker will recover it when this worker's lease expires";
    match lifecycle.within_deadline(housekeeper.release_own()).await {
        Some(Ok(0)) => {}
        Some(Ok(messages)) => {
            tracing::info!(messages, "gave the unfinished batch back to the queue");
        }
        Some(Err(err)) => tracing::warn!(
            error = %err,
            "could not give back the unfinished batch; {leftover}"
        ),
        None => tracing::warn!("Redis did not answer the release by the stop deadline; {leftover}"),
    }
}
