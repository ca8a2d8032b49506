//! Whether the worker can drain, and `/readyz` from it: serving, not stopping, the schema
//! migrated, and both backing services answering.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use actix_web::{HttpResponse, web};
use prometheus::IntGauge;
use service_kit::lifecycle::Lifecycle;

use crate::metrics::WorkerMetrics;

/// The one record of the worker's health. Each fact has one writer: the consumer marks the schema
/// migrated, the housekeeping round records what its probes of Redis and PostgreSQL found.
/// The `worker_redis_up` and `worker_postgres_up` gauges mirror it. Cheap to clone: every
/// clone shares the same state.
#[derive(Clone)]
pub struct Health {
    state: Arc<State>,
    redis_up: IntGauge,
    postgres_up: IntGauge,
}

#[derive(Default)]
struct State {
    schema_ready: AtomicBool,
    redis: AtomicBool,
    postgres: AtomicBool,
}

impl Health {
    /// Nothing known yet: not ready until the schema is migrated and both services answered.
    pub fn new(metrics: &WorkerMetrics) -> Health {
        metrics.redis_up.set(0);
        metrics.postgres_up.set(0);
        Health {
            state: Arc::default(),
            redis_up: metrics.redis_up.clone(),
            postgres_up: metrics.postgres_up.clone(),
        }
    }

    /// The schema is at the version this worker writes to; it stays so (migrations only add).
    pub fn schema_migrated(&self) {
        self.state.schema_ready.store(true, Ordering::Relaxed);
    }

    pub fn redis_probed(&self, answered: bool) {
        self.state.redis.store(answered, Ordering::Relaxed);
        self.redis_up.set(i64::from(answered));
    }

    pub fn postgres_probed(&self, answered: bool) {
        self.state.postgres.store(answered, Ordering::Relaxed);
        self.postgres_up.set(i64::from(answered));
    }

    /// Why the worker cannot drain right now, naming the variable to check; None if it can.
    pub fn problem(&self) -> Option<&'static str> {
        let state = &self.state;
        if !state.redis.load(Ordering::Relaxed) {
            Some("Redis unreachable (REDIS_URL)")
        } else if !state.postgres.load(Ordering::Relaxed) {
            Some("PostgreSQL unreachable (DATABASE_URL)")
        } else if !state.schema_ready.load(Ordering::Relaxed) {
            Some("schema not migrated yet (DATABASE_URL)")
        } else {
            None
        }
    }
}

/// Why `/readyz` answers 503 right now; None when it answers 200. `worker_ready` reads the
/// same, so the gauge and the probe cannot disagree.
pub fn not_ready_because(lifecycle: &Lifecycle, health: &Health) -> Option<&'static str> {
    if lifecycle.is_stopping() {
        Some("shutting down")
    } else {
        health.problem()
    }
}

/// `GET /readyz`. A worker that cannot drain says so, which lets an orchestrator hold a
/// rolling update instead of replacing healthy workers with stuck ones.
pub async fn readyz(lifecycle: web::Data<Lifecycle>, health: web::Data<Health>) -> HttpResponse {
    match not_ready_because(&lifecycle, &health) {
        Some(problem) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("{problem}\n")),
        None => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
    }
}
