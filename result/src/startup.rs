//! Building and running the application: the same code path in production and in tests.

use std::{future::Future, io, time::Duration};

use actix_web::{dev::Server, web};
use anyhow::Context;
use ballot::Tally;
use deadpool_postgres::Pool;
use service_kit::{
    config,
    lifecycle::{Lifecycle, serve_until},
    metrics::Metrics,
    server::WebServer,
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    configuration::Settings,
    feed::{FirstRead, TallyFeed},
    metrics::ResultMetrics,
    routes,
};

/// Reads of the tally take one connection; the second lets a read run while a replacement
/// for a broken connection is being made. LISTEN holds a connection of its own.
const MAX_POOLED_CONNECTIONS: usize = 2;

/// Waiting longer than this for a pooled connection means PostgreSQL is not answering.
const POOL_WAIT: Duration = Duration::from_secs(3);

pub struct Application {
    port: u16,
    server: Server,
    lifecycle: Lifecycle,
    shutdown_drain: Duration,
    feed: JoinHandle<()>,
    pool: Pool,
}

impl Application {
    /// Binds the listener (port 0 picks a free one), then starts the tally feed. Waits for
    /// nothing: PostgreSQL is first asked by the feed, once running, and until its first read
    /// has ended the replica is not ready. A database that is down leaves the page at the last
    /// known tally (zero at start) until it is back.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        tracing::info!(
            port = settings.port,
            database_url = %settings.database,
            option_a = %settings.option_a,
            option_b = %settings.option_b,
            app_version = %settings.app_version,
            safety_poll_ms = settings.safety_poll.as_millis() as u64,
            shutdown_drain_ms = settings.shutdown_drain.as_millis() as u64,
            "starting the result service"
        );
        let server = WebServer::bind(settings.port)?;
        let port = server.port();
        let page = web::Data::new(
            routes::Page::new(&settings, config::hostname())
                .context("compiling the page template")?,
        );
        let pool = settings.database.pool(MAX_POOLED_CONNECTIONS, POOL_WAIT);
        let metrics = Metrics::new("result", &settings.app_version);
        let result_metrics = ResultMetrics::register(&metrics);
        let lifecycle = Lifecycle::new();
        let first_read = FirstRead::default();
        metrics.register_ready("result", {
            let (lifecycle, first_read) = (lifecycle.clone(), first_read.clone());
            move || routes::is_ready(&lifecycle, &first_read)
        });
        let (publish, tally) = watch::channel(Tally::default());

        let tally = web::Data::new(tally);
        let result_metrics_data = web::Data::new(result_metrics.clone());
        let first_read_data = web::Data::new(first_read.clone());
        let sockets = web::Data::new(routes::Sockets::new(settings.sockets));
        let server = server.start(
            metrics,
            lifecycle.clone(),
            routes::readyz,
            move |config: &mut web::ServiceConfig| {
                config
                    .app_data(page.clone())
                    .app_data(tally.clone())
                    .app_data(result_metrics_data.clone())
                    .app_data(first_read_data.clone())
                    .app_data(sockets.clone());
                routes::configure(config);
            },
        )?;
        tracing::info!(port, "listening");

        // Last, so that no error path above leaves it running.
        let feed = tokio::spawn(
            TallyFeed {
                database: settings.database,
                pool: pool.clone(),
                publish,
                metrics: result_metrics,
                safety_poll: settings.safety_poll,
                first_read,
                notified_at: Default::default(),
            }
            .run(lifecycle.clone()),
        );
        Ok(Application {
            port,
            server,
            lifecycle,
            shutdown_drain: settings.shutdown_drain,
            feed,
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops as SPEC section 6 says: readiness 503 and
    /// every socket closed with 1001 at once, in-flight requests finished, the database
    /// connections closed.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let served = serve_until(
            self.server,
            self.lifecycle.clone(),
            shutdown,
            self.shutdown_drain,
        )
        .await;
        // Also when the server ended on its own, so that the feed ends.
        self.lifecycle.begin_shutdown();
        // The feed ends on the lifecycle's stop, dropping whatever database wait it was in;
        // the deadline bounds it all the same. A panic in it has been logged already.
        let mut feed = self.feed;
        if self.lifecycle.within_deadline(&mut feed).await.is_none() {
            tracing::warn!("the tally feed did not stop by the stop deadline");
            feed.abort();
        }
        // Closes the idle connections without a word to the server, which may not answer.
        self.pool.close();
        served
    }
}
