//! The HTTP surface of SPEC section 5.

mod assets;
mod page;
mod socket;

use actix_web::{FromRequest, Handler, Resource, Responder, web};
use service_kit::{http, lifecycle, metrics};

pub use page::Page;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(get("/", page::page))
        .service(get("/api/results", page::api_results))
        .service(get("/ws", socket::socket))
        .service(get("/static/result.css", assets::stylesheet))
        .service(get("/static/result.js", assets::script))
        .service(get("/favicon.svg", assets::favicon))
        .service(get("/healthz", lifecycle::healthz))
        .service(get("/readyz", lifecycle::readyz))
        .service(get("/metrics", metrics::metrics_endpoint))
        .default_service(web::to(http::not_found));
}

/// A path served only to GET; other methods get the 405 page.
fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(http::method_not_allowed))
}
