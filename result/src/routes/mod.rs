//! The HTTP surface of SPEC section 5.

mod assets;
mod page;
mod socket;

use actix_web::web;
use service_kit::{
    http::{self, get},
    lifecycle,
};

pub use page::Page;
pub use socket::{SocketSettings, Sockets};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(get("/", page::page))
        .service(get("/api/results", page::api_results))
        .service(get("/ws", socket::socket))
        .service(get("/static/result.css", assets::stylesheet))
        .service(get("/static/result.js", assets::script))
        .service(get("/favicon.svg", assets::favicon))
        .configure(http::operator_routes(lifecycle::readyz))
        .default_service(web::to(http::not_found));
}
