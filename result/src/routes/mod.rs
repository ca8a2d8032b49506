//! The HTTP surface of SPEC section 5.

mod assets;
mod page;
mod socket;

use actix_web::{HttpResponse, web};
use service_kit::{
    http::get,
    lifecycle::{self, Lifecycle},
};

use crate::feed::FirstRead;

pub use page::Page;
pub use socket::{SocketSettings, Sockets};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(get("/", page::page))
        .service(get("/api/results", page::api_results))
        .service(get("/ws", socket::socket))
        .service(get("/static/result.css", assets::stylesheet))
        .service(get("/static/result.js", assets::script))
        .service(get("/favicon.svg", assets::favicon));
}

/// `GET /readyz`: serving and not stopping, and, at start-up, the first read of the tally over
/// (whether it succeeded or not), so that a load balancer sends no visitor a zero that the
/// real tally replaces a moment later. A database outage afterwards keeps the replica ready
/// with the last tally (SPEC section 5).
pub async fn readyz(
    lifecycle: web::Data<Lifecycle>,
    first_read: web::Data<FirstRead>,
) -> HttpResponse {
    if !first_read.is_done() && !lifecycle.is_stopping() {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("starting: reading the tally\n");
    }
    lifecycle::readyz(lifecycle).await
}

/// What `/readyz` answers 200 to, for `result_ready`.
pub fn is_ready(lifecycle: &Lifecycle, first_read: &FirstRead) -> bool {
    first_read.is_done() && !lifecycle.is_stopping()
}
