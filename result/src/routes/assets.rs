//! The page's stylesheet, script and icon, compiled into the binary: the page loads nothing
//! from anywhere else, so it works offline and under a strict Content-Security-Policy.

use actix_web::HttpResponse;

/// Asset URLs carry the version (`?v=`), so a rolling update never mixes a new page with an
/// old cached script; the short lifetime bounds the damage of a rebuild under the same version.
const ASSET_CACHE: &str = "public, max-age=300";

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

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", ASSET_CACHE))
        .body(body)
}
