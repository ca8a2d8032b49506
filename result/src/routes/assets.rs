//! The page's stylesheet, script and icon, compiled into the binary: the page loads nothing
//! from anywhere else, so it works offline and under a strict Content-Security-Policy.

use actix_web::HttpResponse;
use service_kit::http::asset;

pub async fn stylesheet() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/result.css"),
    )
}

pub async fn script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/result.js"),
    )
}

pub async fn favicon() -> HttpResponse {
    asset("image/svg+xml", include_str!("../../assets/favicon.svg"))
}
