//! `GET /` and `GET /api/results`: the tally as the server knows it right now.

use actix_web::{HttpResponse, http::header::ContentType, web};
use ballot::Tally;
use serde::Serialize;
use service_kit::http::page_template;
use tokio::sync::watch;

use crate::configuration::Settings;

const TEMPLATE: &str = "result.html";

/// The page template and what it shows besides the tally, built once at start-up.
pub struct Page {
    templates: tera::Tera,
    option_a: String,
    option_b: String,
    app_version: String,
    hostname: String,
    /// How often the socket sends a frame at the least, so the script can tell a quiet socket
    /// from a dead one.
    heartbeat_ms: u64,
}

#[derive(Serialize)]
struct PageContext<'a> {
    option_a: &'a str,
    option_b: &'a str,
    app_version: &'a str,
    hostname: &'a str,
    heartbeat_ms: u64,
    total_text: String,
    /// The numbers shown; absent while there are no votes.
    percent_a: Option<u64>,
    percent_b: Option<u64>,
    /// The bars' lengths: half each while there are no votes.
    bar_a: u64,
    bar_b: u64,
}

impl Page {
    pub fn new(settings: &Settings, hostname: String) -> Result<Page, tera::Error> {
        let templates = page_template(TEMPLATE, include_str!("../../templates/result.html"))?;
        Ok(Page {
            templates,
            option_a: settings.option_a.clone(),
            option_b: settings.option_b.clone(),
            app_version: settings.app_version.clone(),
            hostname,
            heartbeat_ms: settings.sockets.heartbeat.as_millis() as u64,
        })
    }

    pub fn render(&self, tally: Tally) -> Result<String, tera::Error> {
        let percentages = tally.percentages();
        let (bar_a, bar_b) = percentages.unwrap_or((50, 50));
        let context = PageContext {
            option_a: &self.option_a,
            option_b: &self.option_b,
            app_version: &self.app_version,
            hostname: &self.hostname,
            heartbeat_ms: self.heartbeat_ms,
            total_text: tally.total_text(),
            percent_a: percentages.map(|(a, _)| a),
            percent_b: percentages.map(|(_, b)| b),
            bar_a,
            bar_b,
        };
        self.templates
            .render(TEMPLATE, &tera::Context::from_serialize(&context)?)
    }
}

/// The live page, rendered with the current tally so it is right before any script runs.
pub async fn page(
    page: web::Data<Page>,
    tally: web::Data<watch::Receiver<Tally>>,
) -> actix_web::Result<HttpResponse> {
    let current = *tally.borrow();
    let body = page.render(current).map_err(|err| {
        // The template is compiled in and its context is fixed: this is a programming error.
        tracing::error!(error = ?err, "rendering the result page failed");
        actix_web::error::ErrorInternalServerError("the page could not be rendered")
    })?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        // The page is the tally of this moment; a cached copy would be wrong at once.
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// The same JSON as a WebSocket frame, for scripts and curl.
pub async fn api_results(tally: web::Data<watch::Receiver<Tally>>) -> HttpResponse {
    let current = *tally.borrow();
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header(("Cache-Control", "no-store"))
        .body(current.to_json())
}
