//! The one task per process that keeps the tally current and publishes it to every socket.
//!
//! Sockets never query PostgreSQL: they watch a `tokio::sync::watch` channel that this task
//! feeds. A watch holds only the newest value, so a slow client skips straight to the newest
//! tally and never holds up the others.

use std::{
    future::poll_fn,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use ballot::Tally;
use deadpool_postgres::Pool;
use service_kit::{backoff::Backoff, lifecycle::Lifecycle, postgres::PostgresConfig};
use tokio::{
    sync::{Notify, watch},
    time::{self, MissedTickBehavior},
};
use tokio_postgres::AsyncMessage;
use tracing::{debug, info, warn};

use crate::{metrics::ResultMetrics, tally};

/// The channel the worker's triggers notify at the commit of every change to `votes`.
pub const CHANNEL: &str = "votes_changed";

/// The first retry after a lost connection comes quickly (a restarted database is often back
/// within a second); later ones back off so that an outage costs little.
const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(250);
/// Also the longest a page can lag a recovered database through LISTEN alone; the safety
/// poll covers the gap.
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(5);

/// A read that takes longer than this is abandoned and counted as a failure, so that a hung
/// database connection cannot freeze the page; the next notification or poll tries again.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the LISTEN connection is asked a trivial query. A connection whose server froze
/// or whose network path died raises no error on its own until TCP gives up, which takes
/// hours; this finds it within seconds, and reconnecting brings push back.
const LISTEN_CHECK: Duration = Duration::from_secs(10);

/// Whether the first read of the tally has ended, either way: until then the replica is not
/// ready, so that no visitor is shown a zero that the real tally replaces a moment later.
#[derive(Clone, Default)]
pub struct FirstRead(Arc<AtomicBool>);

impl FirstRead {
    pub fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn done(&self) {
        self.0.store(true, Ordering::Release);
    }
}

pub struct TallyFeed {
    pub database: PostgresConfig,
    pub pool: Pool,
    pub publish: watch::Sender<Tally>,
    pub metrics: ResultMetrics,
    pub safety_poll: Duration,
    pub first_read: FirstRead,
    /// When the first notification not yet followed by a read arrived, for
    /// `result_tally_push_delay_seconds`.
    pub notified_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl TallyFeed {
    /// Runs until the lifecycle stops; whatever it is waiting on (a connection, a read) is
    /// dropped then.
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

    /// Reads at once, then on every wake-up and every safety-poll period.
    async fn follow(&self, wake: &Notify) {
        let mut poll = time::interval(self.safety_poll);
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
    /// connection listened are lost, and the read after LISTEN covers them. An outage is
    /// logged when it begins and when it ends, not at every retry.
    async fn listen(&self, wake: &Notify) {
        let mut backoff = Backoff::new(RECONNECT_FIRST_DELAY, RECONNECT_MAX_DELAY);
        // Whether the current failure has been logged.
        let mut logged = false;
        loop {
            let mut listened = false;
            let why = self.hold_listen(wake, &mut listened).await;
            if listened {
                backoff.reset();
                logged = false;
            }
            if logged {
                debug!(error = %why, "still cannot LISTEN on PostgreSQL");
            } else {
                warn!(
                    error = %why,
                    database_url = %self.database,
                    "lost or cannot make the LISTEN connection to PostgreSQL; retrying \
                     quietly until it is back (check DATABASE_URL). The page keeps the last \
                     tally and the safety poll still runs"
                );
                logged = true;
            }
            time::sleep(backoff.next_delay()).await;
        }
    }

    /// Connects, LISTENs and relays notifications until the connection fails; returns why.
    /// Sets `listened` once LISTEN has succeeded.
    async fn hold_listen(&self, wake: &Notify, listened: &mut bool) -> String {
        let (client, mut connection) = match self.database.connect().await {
            Ok(connected) => connected,
            Err(err) => return err.to_string(),
        };
        // The connection half carries every answer to the client half as well as the
        // notifications, so it is polled for as long as the client is used.
        let relay = async {
            loop {
                match poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(_))) => {
                        self.notified_at
                            .lock()
                            .expect("no holder of the lock panics")
                            .get_or_insert_with(std::time::Instant::now);
                        wake.notify_one();
                    }
                    Some(Ok(_notice)) => {}
                    Some(Err(err)) => return service_kit::postgres::explain(&err),
                    None => return "the server closed the connection".to_owned(),
                }
            }
        };
        let subscribe = async {
            let mut check = time::interval(LISTEN_CHECK);
            check.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut query = format!("LISTEN {CHANNEL}");
            loop {
                check.tick().await;
                match time::timeout(READ_TIMEOUT, client.batch_execute(&query)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => return service_kit::postgres::explain(&err),
                    Err(_) => return format!("no answer within {READ_TIMEOUT:?}"),
                }
                if !*listened {
                    *listened = true;
                    info!(channel = CHANNEL, "listening for tally changes");
                    wake.notify_one();
                    query = "SELECT 1".to_owned();
                }
            }
        };
        tokio::select! {
            why = relay => why,
            why = subscribe => why,
        }
    }

    /// Reads the tally and publishes it if it changed. On failure the last tally stays.
    async fn refresh(&self) {
        // Notifications from here on wait for the next read; this one covers those before.
        let notified_at = self
            .notified_at
            .lock()
            .expect("no holder of the lock panics")
            .take();
        match tally::read(&self.pool, READ_TIMEOUT).await {
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
                // Every socket's task watches the channel: the tally is in their hands now.
                if let Some(notified_at) = notified_at {
                    self.metrics
                        .push_delay
                        .observe(notified_at.elapsed().as_secs_f64());
                }
            }
            Err(err) => {
                if self.metrics.tally_read(false) {
                    warn!(
                        error = %err,
                        database_url = %self.database,
                        "cannot read the tally from PostgreSQL; check DATABASE_URL. The page \
                         keeps the last tally until it is back"
                    );
                }
            }
        }
        // After publishing, so that a replica turning ready already shows the tally.
        self.first_read.done();
    }
}
