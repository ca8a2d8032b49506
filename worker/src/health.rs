//! `/readyz` for the worker: serving, not stopping, and both backing services answering.

use actix_web::{HttpResponse, web};
use service_kit::lifecycle::Lifecycle;

use crate::telemetry::WorkerMetrics;

/// `GET /readyz`. A worker that cannot reach Redis or PostgreSQL cannot drain; saying so lets
/// an orchestrator hold a rolling update instead of replacing healthy workers with stuck ones.
pub async fn readyz(
    lifecycle: web::Data<Lifecycle>,
    metrics: web::Data<WorkerMetrics>,
) -> HttpResponse {
    let problem = if lifecycle.is_stopping() {
        Some("shutting down")
    } else if metrics.redis_up.get() != 1 {
        Some("Redis unreachable (REDIS_URL)")
    } else if metrics.postgres_up.get() != 1 {
        Some("PostgreSQL unreachable (DATABASE_URL)")
    } else {
        None
    };
    match problem {
        Some(problem) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("{problem}\n")),
        None => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
    }
}
