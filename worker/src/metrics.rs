//! The worker's own metrics (SPEC section 4), registered beside the HTTP ones of service-kit.

use ballot::MalformedBallot;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use service_kit::metrics::Metrics;

/// Cheap to clone: every clone updates the same series.
#[derive(Clone)]
pub struct WorkerMetrics {
    /// Well-formed votes committed to PostgreSQL (before folding a voter's repeats).
    pub votes_processed: IntCounter,
    /// Malformed messages moved to the dead-letter list, by reason.
    pub dead_letters: IntCounterVec,
    pub batch_size: Histogram,
    pub batch_duration: Histogram,
    /// The length of the queue at the last housekeeping round.
    pub queue_depth: IntGauge,
    /// Messages this replica has taken and not yet acknowledged (its processing list).
    pub in_flight: IntGauge,
    /// Per stored message that carries a `ts`: from the vote accepted to its batch committed.
    pub commit_delay: Histogram,
    /// Messages given back to the queue from processing lists without a live lease.
    pub recovered: IntCounter,
    /// Messages this replica counted (as processed or dead letters) although its batch had
    /// been given back to the queue meanwhile, so that another replica counts them too: what
    /// the vote ledger subtracts to count every message once.
    pub counted_twice: IntCounter,
    /// 1 when the last housekeeping probe of Redis succeeded; written only by [`Health`],
    /// which it mirrors.
    ///
    /// [`Health`]: crate::health::Health
    pub redis_up: IntGauge,
    /// 1 when the last housekeeping probe of PostgreSQL succeeded; written only by [`Health`].
    ///
    /// [`Health`]: crate::health::Health
    pub postgres_up: IntGauge,
}

impl WorkerMetrics {
    pub fn register(metrics: &Metrics) -> WorkerMetrics {
        let worker = WorkerMetrics {
            votes_processed: IntCounter::new(
                "worker_votes_processed_total",
                "Votes committed to PostgreSQL",
            )
            .expect("metric name is a valid constant"),
            dead_letters: IntCounterVec::new(
                Opts::new(
                    "worker_dead_letters_total",
                    "Malformed messages moved to the dead-letter list",
                ),
                &["reason"],
            )
            .expect("metric name and labels are valid constants"),
            batch_size: Histogram::with_opts(
                HistogramOpts::new("worker_batch_size", "Messages per batch").buckets(vec![
                    1.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 50000.0,
                ]),
            )
            .expect("metric name and buckets are valid constants"),
            batch_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "worker_batch_duration_seconds",
                    "Time to store and acknowledge one batch",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            )
            .expect("metric name and buckets are valid constants"),
            queue_depth: IntGauge::new("worker_queue_depth", "Messages waiting in the queue")
                .expect("metric name is a valid constant"),
            in_flight: IntGauge::new(
                "worker_in_flight",
                "Messages this replica holds, taken and not yet acknowledged",
            )
            .expect("metric name is a valid constant"),
            commit_delay: Histogram::with_opts(
                HistogramOpts::new(
                    "worker_vote_commit_delay_seconds",
                    "Per stored message: its batch's commit time minus the time the vote was accepted",
                )
                // Milliseconds when the queue is drained as fast as votes come; minutes when a
                // backlog waits out an outage.
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0,
                ]),
            )
            .expect("metric name and buckets are valid constants"),
            recovered: IntCounter::new(
                "worker_recovered_messages_total",
                "Messages given back to the queue from workers whose lease expired",
            )
            .expect("metric name is a valid constant"),
            counted_twice: IntCounter::new(
                "worker_counted_twice_total",
                "Messages counted by this replica after its batch had been given back to the queue for another to count",
            )
            .expect("metric name is a valid constant"),
            redis_up: IntGauge::new(
                "worker_redis_up",
                "1 when Redis answered the last health probe",
            )
            .expect("metric name is a valid constant"),
            postgres_up: IntGauge::new(
                "worker_postgres_up",
                "1 when PostgreSQL answered the last health probe",
            )
            .expect("metric name is a valid constant"),
        };
        metrics.register(worker.votes_processed.clone());
        metrics.register(worker.dead_letters.clone());
        // Every reason's series exists from the start at 0, so that `increase()` and an alert
        // on any dead letter see the first one.
        for reason in DEAD_LETTER_REASONS {
            worker.dead_letters.with_label_values(&[reason]);
        }
        metrics.register(worker.batch_size.clone());
        metrics.register(worker.batch_duration.clone());
        metrics.register(worker.queue_depth.clone());
        metrics.register(worker.in_flight.clone());
        metrics.register(worker.commit_delay.clone());
        metrics.register(worker.recovered.clone());
        metrics.register(worker.counted_twice.clone());
        metrics.register(worker.redis_up.clone());
        metrics.register(worker.postgres_up.clone());
        worker
    }

    /// Records the delay of each stored message from the `ts` stamps of its batch (the
    /// original's messages carry none and are left out), as of `committed_ms`. A vote replica
    /// whose clock runs ahead would give a negative delay; it counts as none.
    pub fn observe_commit_delays(&self, stamps: &[i64], committed_ms: i64) {
        for &ts in stamps {
            let delay_ms = committed_ms.saturating_sub(ts).max(0);
            self.commit_delay.observe(delay_ms as f64 / 1000.0);
        }
    }

    pub fn count_dead_letter(&self, fault: &MalformedBallot) {
        self.dead_letters
            .with_label_values(&[dead_letter_reason(fault)])
            .inc();
    }
}

/// Every value [`dead_letter_reason`] gives.
const DEAD_LETTER_REASONS: [&str; 4] = ["not_json", "bad_voter_id", "bad_vote", "bad_ts"];

/// A bounded label for each kind of fault.
pub fn dead_letter_reason(fault: &MalformedBallot) -> &'static str {
    match fault {
        MalformedBallot::NotJson(_) => "not_json",
        MalformedBallot::BadVoterId => "bad_voter_id",
        MalformedBallot::BadVote => "bad_vote",
        MalformedBallot::BadTimestamp => "bad_ts",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_created_up_front() {
        for fault in [
            MalformedBallot::NotJson(String::new()),
            MalformedBallot::BadVoterId,
            MalformedBallot::BadVote,
            MalformedBallot::BadTimestamp,
        ] {
            assert!(DEAD_LETTER_REASONS.contains(&dead_letter_reason(&fault)));
        }
    }
}
