//! The result service's own metrics (SPEC section 5), next to the shared request metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use service_kit::metrics::Metrics;

#[derive(Clone)]
pub struct ResultMetrics {
    open_sockets: IntGauge,
    frames_sent: IntCounter,
    tally_reads: IntCounterVec,
    database_up: IntGauge,
    /// From a `votes_changed` notification to the tally it caused handed to every socket.
    pub push_delay: Histogram,
}

impl ResultMetrics {
    /// Creates the collectors and registers them on the instance's registry.
    pub fn register(metrics: &Metrics) -> ResultMetrics {
        let result_metrics = ResultMetrics {
            open_sockets: IntGauge::new("result_websockets_open", "WebSockets open now")
                .expect("metric name is a valid constant"),
            frames_sent: IntCounter::new(
                "result_websocket_frames_sent_total",
                "Tally frames sent to WebSocket clients",
            )
            .expect("metric name is a valid constant"),
            tally_reads: IntCounterVec::new(
                Opts::new(
                    "result_tally_reads_total",
                    "Reads of the tally from PostgreSQL",
                ),
                &["outcome"],
            )
            .expect("metric name and labels are valid constants"),
            database_up: IntGauge::new(
                "result_database_up",
                "1 while the last read of the tally from PostgreSQL succeeded, else 0",
            )
            .expect("metric name is a valid constant"),
            push_delay: Histogram::with_opts(
                HistogramOpts::new(
                    "result_tally_push_delay_seconds",
                    "From a votes_changed notification to the new tally handed to every socket",
                )
                // A read of the two tally rows takes about a millisecond; seconds mean the
                // database is struggling.
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ]),
            )
            .expect("metric name and buckets are valid constants"),
        };
        metrics.register(result_metrics.push_delay.clone());
        metrics.register(result_metrics.open_sockets.clone());
        metrics.register(result_metrics.frames_sent.clone());
        metrics.register(result_metrics.tally_reads.clone());
        metrics.register(result_metrics.database_up.clone());
        result_metrics
    }

    /// Counts a socket as open until the returned guard is dropped, however the socket ends.
    pub fn socket_opened(&self) -> OpenSocket {
        self.open_sockets.inc();
        OpenSocket(self.open_sockets.clone())
    }

    pub fn frame_sent(&self) {
        self.frames_sent.inc();
    }

    /// Records a read of the tally; returns whether the database was up before it.
    pub fn tally_read(&self, succeeded: bool) -> bool {
        let outcome = if succeeded { "ok" } else { "error" };
        self.tally_reads.with_label_values(&[outcome]).inc();
        let was_up = self.database_up.get() == 1;
        self.database_up.set(i64::from(succeeded));
        was_up
    }
}

pub struct OpenSocket(IntGauge);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.dec();
    }
}
