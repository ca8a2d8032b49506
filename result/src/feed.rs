//! The one task per process that keeps the tally current and publishes it to every socket.
//!
//! Sockets never query PostgreSQL: they watch a `tokio::sync::watch` channel that this task
//! feeds. A watch holds only the newest value, so a slow client skips straight to the newest
//! tally and never holds up the others.

use std::{sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::{
    sync::{Notify, watch},
    time::{self, MissedTickBehavior},
};
use tracing::{debug, info, warn};

use crate::{metrics::ResultMetrics, tally::Tally};
use service_kit::lifecycle::Lifecycle;

/// The channel the worker's triggers notify at the commit of every change to `votes`.
pub const CHANNEL: &str = "votes_changed";

/// The first retry after a lost connection comes quickly (a restarted database is often back
/// within a second); later ones back off so that an outage does not flood the logs.
const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(250);
/// Also the longest a page can lag a recovered database through LISTEN alone; the safety
/// poll covers the gap.
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(5);

/// A read that takes longer than this is abandoned and counted as a failure, so that a hung
/// database connection cannot freeze the page; the next notification or poll tries again.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TallyFeed {
    pub pool: PgPool,
    pub publish: watch::Sender<Tally>,
    pub metrics: ResultMetrics,
    pub safety_poll: Duration,
    pub database_url: String,
}

impl TallyFeed {
    /// Runs until the lifecycle stops.
    pub async fn run(self, lifecycle: Lifecycle) {
        // `listen` and `follow` share one wake-up. `Notify` keeps a single permit, so a burst
        // of notifications while a read is running costs one more read, not one per commit.
        let wake = Arc::new(Notify::new());
        tokio::select! {
            _ = lifecycle.stopped() => {}
            () = self.listen(&wake) => {}
            () = self.follow(&wake) => {}
        }
    }

    /// Re-reads on every wake-up and every safety-poll period.
    async fn follow(&self, wake: &Notify) {
        let mut poll = time::interval_at(time::Instant::now() + self.safety_poll, self.safety_poll);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = wake.notified() => {}
                _ = poll.tick() => {}
            }
            self.refresh().await;
        }
    }

    /// Holds a LISTEN connection, reconnecting with capped backoff, and wakes `follow` on
    /// every notification and after every (re)connection: notifications sent while no
    /// connection listened are lost, and the read after LISTEN covers them.
    async fn listen(&self, wake: &Notify) {
        let mut delay = RECONNECT_FIRST_DELAY;
        loop {
            match self.subscribe().await {
                Ok(mut listener) => {
                    info!(channel = CHANNEL, "listening for tally changes");
                    delay = RECONNECT_FIRST_DELAY;
                    wake.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => wake.notify_one(),
                            // The connection dropped and the listener made a new one.
                            Ok(None) => {
                                info!(channel = CHANNEL, "LISTEN connection replaced");
                                wake.notify_one();
                            }
                            Err(err) => {
                                warn!(
                                    error = %err,
                                    "lost the LISTEN connection to PostgreSQL; reconnecting"
                                );
                                break;
                            }
                        }
                    }
                }
                Err(err) => warn!(
                    error = %err,
                    database_url = %self.database_url,
                    retry_in_ms = delay.as_millis() as u64,
                    "cannot LISTEN on PostgreSQL; check DATABASE_URL. The page keeps the last \
                     tally until it is back"
                ),
            }
            time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_MAX_DELAY);
        }
    }

    async fn subscribe(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// Reads the tally and publishes it if it changed. On failure the last tally stays.
    pub async fn refresh(&self) {
        let read = match time::timeout(READ_TIMEOUT, Tally::read(&self.pool)).await {
            Ok(read) => read.map_err(|err| err.to_string()),
            Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
        };
        match read {
            Ok(tally) => {
                if !self.metrics.tally_read(true) {
                    info!(
                        a = tally.a,
                        b = tally.b,
                        "reading the tally from PostgreSQL"
                    );
                }
                let changed = self.publish.send_if_modified(|current| {
                    let changed = *current != tally;
                    *current = tally;
                    changed
                });
                if changed {
                    debug!(a = tally.a, b = tally.b, "tally changed");
                }
            }
            Err(err) => {
                if self.metrics.tally_read(false) {
                    warn!(
                        error = %err,
                        database_url = %self.database_url,
                        "cannot read the tally from PostgreSQL; check DATABASE_URL. The page \
                         keeps the last tally until it is back"
                    );
                }
            }
        }
    }
}
