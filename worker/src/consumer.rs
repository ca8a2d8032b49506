//! the consumer loop: take a batch from Redis, store it in one PostgreSQL transaction, then
//! acknowledge it in Redis. Any failure is retried with capped backoff while the batch waits
//! in this worker's processing list; nothing is acknowledged before it has committed.

use std::time::{Duration, Instant};

use ballot::{Ballot, MalformedBallot};
use deadpool_postgres::Pool;
use service_kit::{backoff::Backoff, lifecycle::Lifecycle};

use crate::{
    health::Health,
    metrics::{WorkerMetrics, dead_letter_reason},
    queue::{Housekeeper, Queue},
    schema,
    store::{self, FoldedBatch, on_connection},
};

/// A batch of a few thousand rows commits in tens of milliseconds; one that has not committed
/// after this is stuck on a connection that no longer answers, and is retried on a new one.
const STORE_TIMEOUT: Duration = Duration::from_secs(15);
/// Migrating may wait for another worker's migration (the advisory lock) and, once, count the
/// existing votes into the new tally; longer than this means the database is not answering.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(300);
/// The health probe's query: short, since it only asks whether PostgreSQL answers.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// The first retry comes quickly: most failures are a connection being re-established.
const RETRY_FIRST_DELAY: Duration = Duration::from_millis(100);
/// Never wait longer than this, so the worker resumes within seconds of a service's return.
const RETRY_MAX_DELAY: Duration = Duration::from_secs(5);

/// Which backing service an error came from: the log line names the variable to check.
#[derive(Debug, Clone, Copy)]
enum Service {
    Redis,
    Postgres,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Redis => "Redis",
            Service::Postgres => "PostgreSQL",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Service::Redis => "REDIS_URL",
            Service::Postgres => "DATABASE_URL",
        }
    }
}

pub struct Consumer {
    pub queue: Queue,
    pub pool: Pool,
    pub metrics: WorkerMetrics,
    pub health: Health,
    pub lifecycle: Lifecycle,
}

impl Consumer {
    /// Migrates the schema, then drains until shutdown. Returns once the batch in hand (if
    /// any) is committed and acknowledged, or, if a backing service failed during shutdown,
    /// left in the processing list for the release that follows. A blocking read in progress
    /// at the stop has been answered (or the stop's deadline has passed) when this returns.
    pub async fn run(mut self) {
        let mut retry = Retry::new(&self.lifecycle, Service::Postgres);
        let version = loop {
            let migrated = tokio::select! {
                biased;
                // Nothing is held yet: the stop need not wait for a migration.
                _ = self.lifecycle.stopped() => return,
                migrated = on_connection!(self.pool, MIGRATION_TIMEOUT, |client| {
                    schema::migrate(&mut client)
                }) => migrated,
            };
            match migrated {
                Ok(version) => break version,
                Err(err) => {
                    if !retry.failed(err).await {
                        return;
                    }
                }
            }
        };
        self.health.schema_migrated();
        tracing::info!(
            version,
            worker_id = %self.queue.keys().worker_id,
            "schema ready; draining the queue"
        );

        while !self.lifecycle.is_stopping() {
            let mut retry = Retry::new(&self.lifecycle, Service::Redis);
            let taken = loop {
                match self.queue.take(&self.lifecycle).await {
                    Ok(batch) => break batch,
                    Err(err) => {
                        if !retry.failed(err.into()).await {
                            return;
                        }
                    }
                }
            };
            if taken.is_empty() {
                continue;
            }
            self.metrics.in_flight.set(taken.len() as i64);
            if !self.process(taken).await {
                // Still held: the release that follows the stop gives it back.
                return;
            }
            self.metrics.in_flight.set(0);
        }
    }

    /// Stores and acknowledges one batch; false if it gave up because the worker is stopping.
    async fn process(&mut self, messages: Vec<Vec<u8>>) -> bool {
        let started = Instant::now();
        let mut ballots = Vec::with_capacity(messages.len());
        let mut dead_letters: Vec<(&[u8], MalformedBallot)> = Vec::new();
        for message in &messages {
            match Ballot::from_queue(message) {
                Ok(ballot) => ballots.push(ballot),
                Err(fault) => dead_letters.push((message, fault)),
            }
        }
        let votes = ballots.len() as u64;
        let stamps: Vec<i64> = ballots
            .iter()
            .map(|ballot| ballot.ts)
            .filter(|&ts| ts > 0)
            .collect();
        let batch = FoldedBatch::fold(ballots);

        if !batch.is_empty() {
            let mut retry = Retry::new(&self.lifecycle, Service::Postgres);
            loop {
                let stored = on_connection!(self.pool, STORE_TIMEOUT, |client| {
                    store::store_batch(&mut client, &batch)
                })
                .await;
                match stored {
                    Ok(()) => {
                        self.metrics
                            .observe_commit_delays(&stamps, ballot::now_millis());
                        break;
                    }
                    Err(err) => {
                        if !retry.failed(err).await {
                            return false;
                        }
                    }
                }
            }
        }

        let dead: Vec<&[u8]> = dead_letters.iter().map(|(message, _)| *message).collect();
        let mut retry = Retry::new(&self.lifecycle, Service::Redis);
        let still_held = loop {
            match self.queue.acknowledge(&dead).await {
                Ok(still_held) => break still_held,
                Err(err) => {
                    if !retry.failed(err.into()).await {
                        return false;
                    }
                }
            }
        };

        let metrics = &self.metrics;
        if !still_held {
            tracing::warn!(
                messages = messages.len(),
                "this worker's lease lapsed while it held a batch, which went back to the queue: \
                 another worker stores it again (no row changes) and counts it a second time"
            );
            metrics.counted_twice.inc_by(messages.len() as u64);
        }
        for (message, fault) in &dead_letters {
            tracing::warn!(
                reason = dead_letter_reason(fault),
                error = %fault,
                bytes = message.len(),
                "malformed message moved to the dead-letter list"
            );
            // The message may hold a voter id: only at debug level (SPEC section 1).
            tracing::debug!(message = %String::from_utf8_lossy(message), "dead letter");
            metrics.count_dead_letter(fault);
        }
        metrics.votes_processed.inc_by(votes);
        metrics.batch_size.observe(messages.len() as f64);
        metrics
            .batch_duration
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(
            messages = messages.len(),
            voters = batch.len(),
            dead_letters = dead_letters.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "batch stored"
        );
        true
    }
}

/// Repeated attempts at one step against one backing service: capped backoff between
/// failures, each logged with the variable to check. Health is the probes' to record, not
/// the consumer's: a step that fails for another reason than reachability must not make readiness
/// flap against them.
struct Retry<'a> {
    lifecycle: &'a Lifecycle,
    service: Service,
    backoff: Backoff,
}

impl<'a> Retry<'a> {
    fn new(lifecycle: &'a Lifecycle, service: Service) -> Self {
        Retry {
            lifecycle,
            service,
            backoff: Backoff::new(RETRY_FIRST_DELAY, RETRY_MAX_DELAY),
        }
    }

    /// Logs the failure and waits before the next attempt. False means give up: the worker is
    /// stopping, and whatever was not acknowledged is still in Redis.
    async fn failed(&mut self, err: anyhow::Error) -> bool {
        let delay = self.backoff.next_delay();
        tracing::warn!(
            error = format!("{err:#}"),
            retry_in_ms = delay.as_millis() as u64,
            "{} is unreachable or failing (check {}); votes wait in Redis",
            self.service.name(),
            self.service.variable()
        );
        pause(self.lifecycle, delay).await
    }
}

/// Sleeps for `delay`; false if the worker is stopping (at once, without waiting).
async fn pause(lifecycle: &Lifecycle, delay: Duration) -> bool {
    tokio::select! {
        biased;
        _ = lifecycle.stopped() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

/// Every `period` until shutdown: renews this worker's lease, recovers the processing lists
/// that no live lease covers, and probes both services for [`Health`], with the queue depth.
/// At the stop, a round in progress is abandoned (it holds nothing) and the housekeeper
/// returned for the release on exit.
pub async fn housekeeping(
    mut housekeeper: Housekeeper,
    pool: Pool,
    health: Health,
    metrics: WorkerMetrics,
    lifecycle: Lifecycle,
    period: Duration,
) -> Housekeeper {
    loop {
        let stopped = tokio::select! {
            biased;
            _ = lifecycle.stopped() => true,
            () = round(&mut housekeeper, &pool, &health, &metrics) => false,
        };
        if stopped || !pause(&lifecycle, period).await {
            return housekeeper;
        }
    }
}

async fn round(
    housekeeper: &mut Housekeeper,
    pool: &Pool,
    health: &Health,
    metrics: &WorkerMetrics,
) {
    let chores = housekeeper.run_chores().await;
    health.redis_probed(chores.is_ok());
    match chores {
        Ok(chores) => {
            metrics.queue_depth.set(chores.queue_depth as i64);
            if chores.recovered > 0 {
                tracing::info!(
                    messages = chores.recovered,
                    "gave back to the queue the messages of workers whose lease expired"
                );
                metrics.recovered.inc_by(chores.recovered);
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "Redis is unreachable or failing (check REDIS_URL)");
        }
    }
    let answered = ping(pool).await;
    if let Err(err) = &answered {
        tracing::warn!(
            error = format!("{err:#}"),
            "PostgreSQL is unreachable or failing (check DATABASE_URL)"
        );
    }
    health.postgres_probed(answered.is_ok());
}

async fn ping(pool: &Pool) -> anyhow::Result<()> {
    on_connection!(pool, PING_TIMEOUT, |client| client.simple_query("SELECT 1"))
        .await
        .map(drop)
}
