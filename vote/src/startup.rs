//! Binding the listener and wiring the routes. Tests start the service through exactly this
//! code, on port 0.

use std::{future::Future, time::Duration};

use actix_web::{dev::Server, web};
use service_kit::{
    http::{get, get_or_head, resource},
    lifecycle::{self, Lifecycle},
    metrics::Metrics,
    redis_url,
    server::WebServer,
};

use crate::{
    configuration::Settings,
    page::Pages,
    queue::BallotQueue,
    routes::{self, AppState},
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
        let server = WebServer::bind(settings.port)?;
        let port = server.port();
        tracing::info!(
            port,
            redis_url = %redis_url::for_log(&settings.redis_url),
            vote_queue = %settings.vote_queue,
            option_a = %settings.option_a,
            option_b = %settings.option_b,
            app_version = %settings.app_version,
            hostname = %settings.hostname,
            shutdown_drain_ms = settings.shutdown_drain.as_millis() as u64,
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
        let server = server.start(
            metrics,
            lifecycle.clone(),
            lifecycle::readyz,
            move |config: &mut web::ServiceConfig| {
                config
                    .app_data(state.clone())
                    .service(
                        resource("/", "GET, HEAD, POST")
                            .route(get_or_head().to(routes::index))
                            .route(web::post().to(routes::vote_form)),
                    )
                    .service(resource("/api/vote", "POST").route(web::post().to(routes::vote_api)))
                    .service(get("/static/vote.css", routes::stylesheet))
                    .service(get("/favicon.svg", routes::favicon))
                    .service(get("/favicon.ico", routes::favicon));
            },
        )?;

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
