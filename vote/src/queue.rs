//! The producer: appends ballots to the Redis list `VOTE_QUEUE` (SPEC section 2).
//!
//! One connection manager serves every request: it multiplexes commands over a single
//! connection and reconnects by itself, so a Redis restart needs no restart of ours.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use ballot::{Ballot, VoteOption};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use service_kit::{metrics::Metrics, redis_url};

/// SPEC section 3: Redis not answering within 2 s means a 503. Our own deadline is shorter so
/// the answer, not just the give-up, arrives within the 2 s.
const PUSH_TIMEOUT: Duration = Duration::from_millis(1500);

/// A connection attempt that takes longer than this is treated as a failure; short, because a
/// request is waiting on it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Reconnection attempts per failed command: the next request tries again anyway, so the
/// manager need not keep a request waiting on a long retry loop.
const RECONNECT_RETRIES: usize = 1;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("Redis did not answer within {PUSH_TIMEOUT:?}")]
    Timeout,
    #[error("Redis refused or failed the append: {0}")]
    Redis(#[from] redis::RedisError),
}

#[derive(Clone)]
pub struct BallotQueue {
    connection: ConnectionManager,
    queue: Arc<str>,
    /// The REDIS_URL without its password, for log lines.
    redacted_url: Arc<str>,
    /// Whether the last append succeeded, so an outage is logged when it starts and ends
    /// rather than once per request.
    healthy: Arc<AtomicBool>,
    metrics: QueueMetrics,
}

#[derive(Clone)]
struct QueueMetrics {
    /// By option: the ledger's "accepted", and the split a dashboard can show before the
    /// worker stores anything.
    appended: IntCounterVec,
    failed: IntCounter,
    redis_up: IntGauge,
    append_duration: Histogram,
}

impl BallotQueue {
    /// Does not connect: the connection is made on the first append, so the service starts
    /// and serves its page even while Redis is not up yet.
    pub fn new(redis_url: &str, queue: &str, metrics: &Metrics) -> anyhow::Result<BallotQueue> {
        // The URL is not repeated: one that does not parse cannot be redacted.
        let client = redis::Client::open(redis_url)
            .map_err(|err| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {err}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(PUSH_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        let queue_metrics = QueueMetrics {
            appended: IntCounterVec::new(
                Opts::new("vote_ballots_queued_total", "Ballots Redis acknowledged"),
                &["vote"],
            )
            .expect("valid metric constant"),
            failed: IntCounter::new(
                "vote_queue_failures_total",
                "Ballots not recorded because Redis failed or timed out",
            )
            .expect("valid metric constant"),
            redis_up: IntGauge::new("vote_redis_up", "1 if the last append to Redis succeeded")
                .expect("valid metric constant"),
            append_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "vote_queue_append_seconds",
                    "Time for Redis to acknowledge an append",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 2.0,
                ]),
            )
            .expect("valid metric constant"),
        };
        metrics.register(queue_metrics.appended.clone());
        metrics.register(queue_metrics.failed.clone());
        metrics.register(queue_metrics.redis_up.clone());
        metrics.register(queue_metrics.append_duration.clone());
        queue_metrics.redis_up.set(1);
        // Both series exist from the start, so that `increase()` sees the first vote of each.
        for option in VoteOption::ALL {
            queue_metrics.appended.with_label_values(&[option.as_str()]);
        }
        Ok(BallotQueue {
            connection,
            queue: queue.into(),
            redacted_url: redis_url::for_log(redis_url).into(),
            healthy: Arc::new(AtomicBool::new(true)),
            metrics: queue_metrics,
        })
    }

    /// Appends the ballot; Ok only once Redis has acknowledged it.
    pub async fn push(&self, ballot: &Ballot) -> Result<(), QueueError> {
        let timer = self.metrics.append_duration.start_timer();
        let mut command = redis::cmd("RPUSH");
        command.arg(&*self.queue).arg(ballot.to_json());
        let outcome = self.run(command).await;
        timer.observe_duration();
        match &outcome {
            Ok(()) => self
                .metrics
                .appended
                .with_label_values(&[ballot.vote.as_str()])
                .inc(),
            Err(_) => self.metrics.failed.inc(),
        }
        outcome
    }

    /// Asks Redis for a PING, so that a wrong or unreachable `REDIS_URL` is logged at start-up
    /// rather than at the first vote. Nothing waits for it: the page serves either way.
    pub async fn check(&self) {
        // The outcome is logged (and shown in `vote_redis_up`) by `run`.
        let _ = self.run(redis::cmd("PING")).await;
    }

    /// Runs one command within [`PUSH_TIMEOUT`], and logs when Redis stops or starts answering.
    async fn run(&self, command: redis::Cmd) -> Result<(), QueueError> {
        let mut connection = self.connection.clone();
        let outcome = match tokio::time::timeout(
            PUSH_TIMEOUT,
            command.query_async::<redis::Value>(&mut connection),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(QueueError::Redis(err)),
            Err(_elapsed) => Err(QueueError::Timeout),
        };
        self.note_health(&outcome);
        outcome
    }

    /// Logs an outage when it starts and when it ends, not once per request.
    fn note_health(&self, outcome: &Result<(), QueueError>) {
        match outcome {
            Ok(()) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    self.metrics.redis_up.set(1);
                    tracing::info!(redis_url = %self.redacted_url, "Redis is answering again; votes are recorded");
                }
            }
            Err(err) => {
                if self.healthy.swap(false, Ordering::Relaxed) {
                    self.metrics.redis_up.set(0);
                    tracing::error!(
                        redis_url = %self.redacted_url,
                        error = %err,
                        "cannot reach Redis; voters get 503 until it answers (check REDIS_URL)"
                    );
                }
            }
        }
    }
}
