//! Building and running the application: the same code path in production and in tests.

use std::{future::Future, io, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;
use service_kit::{
    config,
    http::security_headers,
    lifecycle::{IN_FLIGHT_GRACE_SECS, Lifecycle, serve_until},
    metrics::{Metrics, observe},
};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    configuration::Settings, feed::TallyFeed, metrics::ResultMetrics, routes, tally::Tally,
};

/// One connection holds LISTEN, one reads the tally; the third lets a read run while a
/// replacement for a broken connection is being made.
const MAX_DATABASE_CONNECTIONS: u32 = 3;

/// Connecting to PostgreSQL gives up after this, so that an unreachable address shows in the
/// logs within seconds instead of hanging the feed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Application {
    port: u16,
    server: Server,
    lifecycle: Lifecycle,
    drain: Duration,
    feed: JoinHandle<()>,
    pool: PgPool,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and starts the tally feed. Does not fail
    /// when PostgreSQL is down: the page shows the last known tally (zero at start) until it
    /// is back.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        tracing::info!(
            port = settings.port,
            database_url = %settings.database_url_redacted,
            option_a = %settings.option_a,
            option_b = %settings.option_b,
            app_version = %settings.app_version,
            safety_poll_ms = settings.safety_poll.as_millis() as u64,
            drain_ms = settings.drain.as_millis() as u64,
            "starting the result service"
        );
        let pool = PgPoolOptions::new()
            .max_connections(MAX_DATABASE_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(settings.database.clone());
        let metrics = Metrics::new("result", &settings.app_version);
        let result_metrics = ResultMetrics::register(&metrics);
        let lifecycle = Lifecycle::new();
        metrics.register_ready("result", {
            let lifecycle = lifecycle.clone();
            move || !lifecycle.is_stopping()
        });
        let (publish, tally) = watch::channel(Tally::default());
        let feed = TallyFeed {
            pool: pool.clone(),
            publish,
            metrics: result_metrics.clone(),
            safety_poll: settings.safety_poll,
            database_url: settings.database_url_redacted.clone(),
        };
        // The first page served shows the real tally, not a zero that the feed replaces a
        // moment later.
        feed.refresh().await;
        let feed = tokio::spawn(feed.run(lifecycle.clone()));

        let page = web::Data::new(
            routes::Page::new(&settings, config::hostname())
                .context("compiling the page template")?,
        );
        let tally = web::Data::new(tally);
        let metrics = web::Data::new(metrics);
        let result_metrics = web::Data::new(result_metrics);
        let lifecycle_data = web::Data::new(lifecycle.clone());
        let sockets = web::Data::new(routes::Sockets::new(settings.sockets));
        let listener = service_kit::net::listen_on_all_interfaces(settings.port)
            .with_context(|| format!("cannot listen on port {} (PORT)", settings.port))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(security_headers())
                .wrap(from_fn(observe))
                .app_data(page.clone())
                .app_data(tally.clone())
                .app_data(metrics.clone())
                .app_data(result_metrics.clone())
                .app_data(lifecycle_data.clone())
                .app_data(sockets.clone())
                .configure(routes::configure)
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(IN_FLIGHT_GRACE_SECS)
        .run();
        tracing::info!(port, "listening");
        Ok(Application {
            port,
            server,
            lifecycle,
            drain: settings.drain,
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
        let served = serve_until(self.server, self.lifecycle.clone(), shutdown, self.drain).await;
        // Also when the server ended on its own, so that the feed ends.
        self.lifecycle.begin_shutdown();
        // The feed ends on the lifecycle's stop; a panic in it has been logged already.
        let _ = self.feed.await;
        self.pool.close().await;
        served
    }
}
