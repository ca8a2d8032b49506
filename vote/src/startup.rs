//! Binding the listener and wiring the routes. Tests start the service through exactly this
//! code, on port 0.

use std::{future::Future, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use service_kit::{
    http::{get, get_or_head, not_found, operator_routes, resource, security_headers},
    lifecycle::{self, IN_FLIGHT_GRACE_SECS, Lifecycle},
    metrics::{Metrics, observe},
    redis_url,
};

use crate::{
    page::Pages,
    queue::BallotQueue,
    routes::{self, AppState},
    settings::Settings,
};

pub struct Application {
    port: u16,
    server: Server,
    lifecycle: Lifecycle,
    shutdown_drain: Duration,
}

impl Application {
    /// Binds the port and builds everything shared (templates, the Redis connection manager,
    /// metrics) once. Does not wait for Redis: the page serves while Redis is still starting.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = service_kit::net::listen_on_all_interfaces(settings.port)
            .map_err(|err| anyhow::anyhow!("cannot listen on PORT={}: {err}", settings.port))?;
        let port = listener.local_addr()?.port();
        tracing::info!(
            port,
            redis_url = %redis_url::for_log(&settings.redis_url),
            vote_queue = %settings.vote_queue,
            option_a = %settings.option_a,
            option_b = %settings.option_b,
            app_version = %settings.app_version,
            hostname = %settings.hostname,
            shutdown_drain_s = settings.shutdown_drain.as_secs(),
            "vote service starting"
        );

        let metrics = Metrics::new("vote", &settings.app_version);
        let queue = BallotQueue::new(&settings.redis_url, &settings.vote_queue, &metrics)?;
        tokio::spawn({
            let queue = queue.clone();
            async move { queue.check().await }
        });
        let lifecycle = Lifecycle::new();
        metrics.register_ready("vote", {
            let lifecycle = lifecycle.clone();
            move || !lifecycle.is_stopping()
        });
        let shutdown_drain = settings.shutdown_drain;
        let state = web::Data::new(AppState {
            pages: Pages::new(&settings),
            settings,
            queue,
        });
        let metrics = web::Data::new(metrics);
        let lifecycle_data = web::Data::new(lifecycle.clone());

        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(lifecycle_data.clone())
                .wrap(security_headers())
                .wrap(from_fn(observe))
                .service(
                    resource("/", "GET, HEAD, POST")
                        .route(get_or_head().to(routes::index))
                        .route(web::post().to(routes::vote_form)),
                )
                .service(resource("/api/vote", "POST").route(web::post().to(routes::vote_api)))
                .service(get("/static/vote.css", routes::stylesheet))
                .service(get("/favicon.svg", routes::favicon))
                .service(get("/favicon.ico", routes::favicon))
                .configure(operator_routes(lifecycle::readyz))
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        // Signals are ours to handle: readiness must turn 503 before the listener closes.
        .disable_signals()
        .shutdown_timeout(IN_FLIGHT_GRACE_SECS)
        .run();

        Ok(Application {
            port,
            server,
            lifecycle,
            shutdown_drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops as SPEC section 6 says.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        lifecycle::serve_until(self.server, self.lifecycle, shutdown, self.shutdown_drain).await
    }
}
