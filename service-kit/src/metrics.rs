//! Prometheus metrics and the access log.
//!
//! Each program instance owns a [`Metrics`] with its own registry rather than the
//! process-global one, so that a test can run several instances in one process. Programs
//! register their own collectors with [`Metrics::register`]. Every program exposes what SPEC
//! section 9 asks of all: the request metrics, `<program>_build_info{version}`,
//! `<program>_ready` and the process collector.

use std::{sync::Arc, time::Instant};

use actix_web::{
    Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::ContentType,
    middleware::Next,
    web,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
    core::{Collector, Desc},
    proto::MetricFamily,
};

/// The label for requests that matched no route: paths are unbounded, so they are never labels.
const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_request_duration: HistogramVec,
}

impl Metrics {
    /// The registry of one instance of `program` (`vote`, `worker`, `result`: the prefix of
    /// its own metric names) running `version` (what `APP_VERSION` says).
    pub fn new(program: &str, version: &str) -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("metric name and labels are valid constants");
        let http_request_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response head",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .expect("metric name and labels are valid constants");
        let metrics = Metrics {
            registry,
            http_requests,
            http_request_duration,
        };
        metrics.register(metrics.http_requests.clone());
        metrics.register(metrics.http_request_duration.clone());
        let build_info = IntGaugeVec::new(
            Opts::new(
                format!("{program}_build_info"),
                "Always 1; the label says which version runs",
            ),
            &["version"],
        )
        .expect("metric name and labels are valid constants");
        build_info.with_label_values(&[version]).set(1);
        metrics.register(build_info);
        // CPU, resident memory and open file descriptors of this process, read from /proc.
        metrics.register(prometheus::process_collector::ProcessCollector::for_self());
        metrics
    }

    /// Registers `<program>_ready`: 1 while `ready` says that `/readyz` would answer 200, read
    /// at every scrape, so the gauge cannot disagree with the probe.
    pub fn register_ready(&self, program: &str, ready: impl Fn() -> bool + Send + Sync + 'static) {
        let gauge = IntGauge::new(
            format!("{program}_ready"),
            "1 while /readyz answers 200, else 0",
        )
        .expect("metric name is a valid constant");
        self.register(ReadyGauge {
            gauge,
            ready: Arc::new(ready),
        });
    }

    /// Registers a program's own collector. Names are constants of the program, so a clash is
    /// a programming error caught by the first test that builds the program.
    pub fn register<C: prometheus::core::Collector + 'static>(&self, collector: C) {
        self.registry
            .register(Box::new(collector))
            .expect("each metric is registered once per registry");
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to a Vec cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// A gauge whose value is computed when it is scraped.
struct ReadyGauge {
    gauge: IntGauge,
    ready: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl Collector for ReadyGauge {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.gauge.set(i64::from((self.ready)()));
        self.gauge.collect()
    }
}

/// `GET /metrics`.
pub async fn metrics_endpoint(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType(
            "text/plain; version=0.0.4; charset=utf-8"
                .parse()
                .expect("a valid media type constant"),
        ))
        .body(metrics.render())
}

/// Middleware (`middleware::from_fn(observe)`): one access log line and the request metrics
/// for every request, labelled by the matched route pattern, never by the raw path.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let result = next.call(req).await;
    let (status, route) = match &result {
        Ok(res) => (
            res.status(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned()),
        ),
        Err(err) => (
            err.as_response_error().status_code(),
            UNMATCHED_ROUTE.to_owned(),
        ),
    };
    let elapsed = started.elapsed();
    tracing::info!(
        method = %method,
        route = %route,
        status = status.as_u16(),
        // Whole microseconds: exact enough, and no float's full expansion in the log.
        latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    if let Some(metrics) = metrics {
        metrics
            .http_requests
            .with_label_values(&[method.as_str(), &route, status.as_str()])
            .inc();
        metrics
            .http_request_duration
            .with_label_values(&[method.as_str(), &route])
            .observe(elapsed.as_secs_f64());
    }
    result
}
