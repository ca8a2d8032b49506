//! The Redis side of the consumer: at-least-once consumption of the list `VOTE_QUEUE`.
//!
//! A worker moves each batch atomically from the queue into its own processing list and
//! deletes that list only after the batch has committed in PostgreSQL, so a message is always
//! in Redis until it is stored. Each worker holds a lease that it renews while it runs. Every
//! housekeeping round of every worker walks the keyspace for processing lists (`SCAN`) and
//! gives back to the head of the queue those whose lease key does not exist, so recovery needs
//! no step that a crash, a lost reply or a stop could skip: not a registration, not a clean
//! exit. Worker ids are unique per process, so a restarted worker never takes over its old list.
//!
//! Keys, all starting with `<queue>:` (SPEC section 2):
//! - `<queue>:processing:<worker id>`: the messages a worker holds (the batch in hand).
//! - `<queue>:lease:<worker id>`: present while the worker is alive (expires with a TTL).
//! - `<queue>:workers`: the ids of running workers. Recovery does not rely on it; it is kept
//!   up to date for the earlier worker versions that find processing lists only through it,
//!   so that a fleet mid-update (or rolled back) still recovers this version's lists.
//! - `<queue>:dead`: malformed messages as received, newest last, capped.
//!
//! Every script declares the keys it touches. Redis must be standalone (or a single primary
//! with replicas), version 6.2 or later (`BLMOVE`, `LMOVE`): the keys of one worker and the
//! queue do not share a Cluster hash slot.

use std::{collections::BTreeSet, time::Duration};

use redis::{AsyncConnectionConfig, RedisResult, Script, aio::MultiplexedConnection};
use service_kit::lifecycle::Lifecycle;

/// How many dead letters are kept (SPEC section 4): the newest ones.
pub const DEAD_LETTER_CAP: isize = 10_000;
/// Connecting to Redis takes longer than this only when it is down or unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A command (even a batch-sized script) answers well within this unless Redis is in trouble;
/// short enough that a hung connection is noticed long before a lease expires.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the blocking read waits for a message on an empty queue before it asks again.
/// An idle worker costs Redis two commands per block.
const MAX_BLOCK: Duration = Duration::from_secs(5);
/// Keys looked at per `SCAN` call: one call covers a Redis that holds only the app's keys.
const SCAN_COUNT: usize = 1_000;
/// How often a stopping worker repeats `CLIENT UNBLOCK` while its blocking read has not yet
/// reached Redis (the unblock found nothing to end).
const UNBLOCK_RETRY: Duration = Duration::from_millis(50);

/// How long the blocking read waits for a `lease`: half of it, at most [`MAX_BLOCK`]. The take
/// that precedes every read renews the lease, so the lease outlives the read and a message the
/// read moves lands in a list with a live lease (if the lease lapsed anyway, the list is
/// recovered like any other).
pub fn block_for(lease: Duration) -> Duration {
    (lease / 2).min(MAX_BLOCK)
}

/// Fills the processing list up to ARGV[1] messages from the head of the queue and returns
/// everything in it: a message moved by an earlier take whose answer was lost (a timeout, a
/// dropped connection) is in the batch too, so acknowledging the batch by deleting the list
/// never deletes a message that was not stored. Renews the lease in the same atomic step, so
/// a worker never holds messages it just took without a live lease. RPUSH goes in chunks:
/// Lua's unpack has a limit on how many values it spreads.
/// KEYS: the queue, the processing list, the workers set, the lease; ARGV: the batch size,
/// the worker id, the lease in seconds.
const TAKE_SCRIPT: &str = r"
redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[2])
local room = tonumber(ARGV[1]) - redis.call('LLEN', KEYS[2])
if room > 0 then
  local items = redis.call('LRANGE', KEYS[1], 0, room - 1)
  local n = #items
  for first = 1, n, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, first, math.min(first + 999, n)))
  end
  if n > 0 then
    redis.call('LTRIM', KEYS[1], n, -1)
  end
end
return redis.call('LRANGE', KEYS[2], 0, -1)
";

/// Gives one worker's processing list back to the head of the queue, in its order, if the
/// worker's lease does not exist (or, with ARGV[2] = 'stopping', unconditionally: the worker
/// itself, stopping), and forgets the worker. The lease check and the moves are one atomic
/// step, so a live worker's list is never taken from it. Returns how many messages went back.
/// KEYS: the queue, the processing list, the lease, the workers set; ARGV: the worker id,
/// 'stopping' or ''.
const RELEASE_SCRIPT: &str = r"
if ARGV[2] ~= 'stopping' and redis.call('EXISTS', KEYS[3]) == 1 then
  return 0
end
local moved = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'LEFT') do
  moved = moved + 1
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return moved
";

/// A fresh id for this process: the host name (the pod or container) and a random suffix, so
/// that a worker restarted in the same container still gets a new name.
pub fn new_worker_id() -> String {
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).expect("the operating system's random source is available");
    format!(
        "{}-{:08x}",
        service_kit::config::hostname(),
        u32::from_be_bytes(suffix)
    )
}

/// The Redis keys of one queue as seen by one worker.
#[derive(Debug, Clone)]
pub struct QueueKeys {
    pub worker_id: String,
    pub queue: String,
    pub processing: String,
    pub lease: String,
    pub workers: String,
    pub dead: String,
    prefix: String,
}

impl QueueKeys {
    pub fn new(queue: &str, worker_id: &str) -> QueueKeys {
        let prefix = format!("{queue}:");
        QueueKeys {
            worker_id: worker_id.to_owned(),
            queue: queue.to_owned(),
            processing: format!("{prefix}processing:{worker_id}"),
            lease: format!("{prefix}lease:{worker_id}"),
            workers: format!("{prefix}workers"),
            dead: format!("{prefix}dead"),
            prefix,
        }
    }

    /// The processing lists' common start, `<queue>:processing:`.
    fn processing_prefix(&self) -> Vec<u8> {
        format!("{}processing:", self.prefix).into_bytes()
    }

    /// The processing list and the lease of the worker `id`, which may be any worker's.
    fn of_worker(&self, id: &[u8]) -> (Vec<u8>, Vec<u8>) {
        (
            [self.processing_prefix().as_slice(), id].concat(),
            [self.prefix.as_bytes(), b"lease:", id].concat(),
        )
    }
}

/// `text` as a `SCAN MATCH` pattern that matches only itself: a queue name may hold the glob
/// characters.
fn glob_literal(text: &[u8]) -> Vec<u8> {
    let mut pattern = Vec::with_capacity(text.len() + 2);
    for &byte in text {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            pattern.push(b'\\');
        }
        pattern.push(byte);
    }
    pattern
}

/// A Redis connection opened on first use and forgotten after any error, so that the next use
/// reconnects: the worker outlives Redis restarts without a connection manager of its own.
struct RedisLink {
    client: redis::Client,
    config: AsyncConnectionConfig,
    connection: Option<MultiplexedConnection>,
}

impl RedisLink {
    fn new(client: redis::Client, response_timeout: Duration) -> RedisLink {
        RedisLink {
            client,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(response_timeout)),
            connection: None,
        }
    }

    /// A handle on the connection (cheap to clone: it shares one socket), and whether it is a
    /// new one.
    async fn connection(&mut self) -> RedisResult<(MultiplexedConnection, bool)> {
        if let Some(connection) = &self.connection {
            return Ok((connection.clone(), false));
        }
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        self.connection = Some(connection.clone());
        Ok((connection, true))
    }

    /// Runs `command` on the connection; after an error the connection is dropped.
    async fn run<T, F>(
        &mut self,
        command: impl FnOnce(MultiplexedConnection) -> F,
    ) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let (connection, _) = self.connection().await?;
        let result = command(connection).await;
        if result.is_err() {
            self.connection = None;
        }
        result
    }
}

/// Where the worker takes its batches from and acknowledges them.
pub struct Queue {
    keys: QueueKeys,
    batch_size: usize,
    lease: Duration,
    block: Duration,
    commands: RedisLink,
    /// The blocking read gets its own connection: on a shared one it would hold up every other
    /// command for as long as it blocks. Its response timeout is longer than the block.
    blocking: RedisLink,
    /// The blocking connection's id on the server (`CLIENT ID`), with which a stopping worker
    /// ends its read at once (`CLIENT UNBLOCK`). None where Redis does not allow either
    /// command: the stop then waits for the read to end by itself, within the block.
    blocking_id: Option<i64>,
    take: Script,
}

impl Queue {
    pub fn new(
        client: redis::Client,
        keys: QueueKeys,
        batch_size: usize,
        lease: Duration,
    ) -> Queue {
        let block = block_for(lease);
        Queue {
            keys,
            batch_size,
            lease,
            block,
            commands: RedisLink::new(client.clone(), RESPONSE_TIMEOUT),
            blocking: RedisLink::new(client, block + RESPONSE_TIMEOUT),
            blocking_id: None,
            take: Script::new(TAKE_SCRIPT),
        }
    }

    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// The next batch, as received: up to the batch size at once when the queue has messages;
    /// when it is empty, waits (without polling) up to the block time for the first one. An
    /// empty batch means the queue stayed empty, or the worker is stopping. The batch is
    /// exactly this worker's processing list, where it stays until [`Queue::acknowledge`].
    ///
    /// When `lifecycle` begins the stop during the wait, the wait is ended and its answer
    /// awaited (by the stop's deadline) before this returns: once Redis has answered the
    /// read, nothing can land in the processing list any more, so the release that follows
    /// gives back whatever the read moved.
    pub async fn take(&mut self, lifecycle: &Lifecycle) -> RedisResult<Vec<Vec<u8>>> {
        let batch = self.take_now().await?;
        if !batch.is_empty() || lifecycle.is_stopping() {
            return Ok(batch);
        }
        // The take that just found the queue empty renewed the lease, which outlasts the block.
        let arrived = self.wait_for_message(lifecycle).await?;
        if arrived && !lifecycle.is_stopping() {
            // The message is in the processing list; the batch is read from there.
            self.take_now().await
        } else {
            Ok(Vec::new())
        }
    }

    /// Blocks until a message moves from the queue to the processing list (true), or the
    /// block ends or the stop ends it (false).
    async fn wait_for_message(&mut self, lifecycle: &Lifecycle) -> RedisResult<bool> {
        let (connection, new) = self.blocking.connection().await?;
        if new {
            let mut connection = connection;
            self.blocking_id = redis::cmd("CLIENT")
                .arg("ID")
                .query_async(&mut connection)
                .await
                .ok();
        }
        let (keys, block, blocking_id) = (&self.keys, self.block, self.blocking_id);
        let read = self.blocking.run(|mut connection| async move {
            redis::cmd("BLMOVE")
                .arg(&keys.queue)
                .arg(&keys.processing)
                .arg("LEFT")
                .arg("RIGHT")
                .arg(block.as_secs_f64())
                .query_async::<Option<Vec<u8>>>(&mut connection)
                .await
        });
        tokio::pin!(read);
        tokio::select! {
            biased;
            arrived = &mut read => return arrived.map(|message| message.is_some()),
            _ = lifecycle.stopped() => {}
        }
        let commands = &mut self.commands;
        // Ends the read now, or finds that it cannot: then the read ends with its block.
        let unblocking = async move {
            let Some(id) = blocking_id else { return };
            loop {
                let unblocked: RedisResult<i64> = commands
                    .run(|mut connection| async move {
                        redis::cmd("CLIENT")
                            .arg("UNBLOCK")
                            .arg(id)
                            .query_async(&mut connection)
                            .await
                    })
                    .await;
                match unblocked {
                    // The read was blocked and answers now.
                    Ok(1) => return,
                    // The read has not reached Redis yet.
                    Ok(_) => tokio::time::sleep(UNBLOCK_RETRY).await,
                    Err(err) => {
                        tracing::debug!(error = %err, "CLIENT UNBLOCK failed; the read ends by itself");
                        return;
                    }
                }
            }
        };
        let answered = lifecycle
            .within_deadline(async {
                tokio::select! {
                    biased;
                    arrived = &mut read => return arrived,
                    () = unblocking => {}
                }
                (&mut read).await
            })
            .await;
        match answered {
            Some(arrived) => arrived.map(|message| message.is_some()),
            // Redis did not answer by the deadline: the read may yet move a message, into a
            // list whose lease is deleted by the release or lapses, and that any worker's next
            // round gives back.
            None => Ok(false),
        }
    }

    async fn take_now(&mut self) -> RedisResult<Vec<Vec<u8>>> {
        let (keys, lease, take, count) = (&self.keys, self.lease, &self.take, self.batch_size);
        self.commands
            .run(|mut connection| async move {
                take.key(&keys.queue)
                    .key(&keys.processing)
                    .key(&keys.workers)
                    .key(&keys.lease)
                    .arg(count)
                    .arg(&keys.worker_id)
                    .arg(lease.as_secs())
                    .invoke_async(&mut connection)
                    .await
            })
            .await
    }

    /// After the batch has committed: appends its malformed messages to the dead-letter list
    /// (capped) and empties the processing list, in one atomic step. False when the list was
    /// no longer there: the worker's lease lapsed while it held the batch (it was frozen, or
    /// cut off from Redis) and another worker gave the batch back to the queue, to be stored
    /// and counted again. (Or an earlier acknowledgement's answer was lost and this is its
    /// retry: rare, and then the batch is counted as given back though it was not.)
    pub async fn acknowledge(&mut self, dead_letters: &[&[u8]]) -> RedisResult<bool> {
        let keys = &self.keys;
        self.commands
            .run(|mut connection| async move {
                let mut pipe = redis::pipe();
                pipe.atomic();
                if !dead_letters.is_empty() {
                    pipe.rpush(&keys.dead, dead_letters)
                        .ignore()
                        .ltrim(&keys.dead, -DEAD_LETTER_CAP, -1)
                        .ignore();
                }
                pipe.del(&keys.processing);
                let (deleted,): (u64,) = pipe.query_async(&mut connection).await?;
                Ok(deleted == 1)
            })
            .await
    }
}

/// Renews the lease and registration, recovers the processing lists that no live lease
/// covers, and reads the queue depth: the periodic Redis chores, on a connection of their own.
pub struct Housekeeper {
    keys: QueueKeys,
    lease: Duration,
    link: RedisLink,
    release: Script,
}

/// What one round of housekeeping found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chores {
    /// Messages given back to the queue from processing lists without a live lease.
    pub recovered: u64,
    pub queue_depth: u64,
}

impl Housekeeper {
    pub fn new(client: redis::Client, keys: QueueKeys, lease: Duration) -> Housekeeper {
        Housekeeper {
            keys,
            lease,
            link: RedisLink::new(client, RESPONSE_TIMEOUT),
            release: Script::new(RELEASE_SCRIPT),
        }
    }

    /// One round: renews this worker's lease, then gives back every processing list of this
    /// queue whose lease does not exist, whoever held it and whether or not it ever
    /// registered, and reads the queue depth.
    pub async fn run_chores(&mut self) -> RedisResult<Chores> {
        let (keys, lease) = (&self.keys, self.lease);
        let registered: Vec<Vec<u8>> = self
            .link
            .run(|mut connection| async move {
                let ((), (), registered): ((), (), Vec<Vec<u8>>) = redis::pipe()
                    .set_ex(&keys.lease, &keys.worker_id, lease.as_secs())
                    .sadd(&keys.workers, &keys.worker_id)
                    .smembers(&keys.workers)
                    .query_async(&mut connection)
                    .await?;
                Ok(registered)
            })
            .await?;
        // The lists are the truth; the set only adds the ids of workers that hold nothing, so
        // that it forgets them once their lease is gone.
        let mut holders: BTreeSet<Vec<u8>> = registered.into_iter().collect();
        holders.extend(self.processing_list_owners().await?);
        holders.remove(self.keys.worker_id.as_bytes());

        let (keys, release) = (&self.keys, &self.release);
        let (recovered, queue_depth) = self
            .link
            .run(|mut connection| async move {
                let mut pipe = redis::pipe();
                pipe.load_script(release).ignore();
                for id in &holders {
                    let (processing, lease) = keys.of_worker(id);
                    pipe.invoke_script(
                        release
                            .key(&keys.queue)
                            .key(processing)
                            .key(lease)
                            .key(&keys.workers)
                            .arg(id)
                            .arg(""),
                    );
                }
                pipe.llen(&keys.queue);
                let mut answers: Vec<u64> = pipe.query_async(&mut connection).await?;
                let queue_depth = answers.pop().expect("the pipeline ends with LLEN");
                Ok((answers.iter().sum(), queue_depth))
            })
            .await?;
        Ok(Chores {
            recovered,
            queue_depth,
        })
    }

    /// The worker ids of every processing list of this queue, found with `SCAN`: a list
    /// present for the whole walk is found; one made during it, by the next round.
    async fn processing_list_owners(&mut self) -> RedisResult<Vec<Vec<u8>>> {
        let prefix = self.keys.processing_prefix();
        let pattern = [glob_literal(&prefix), b"*".to_vec()].concat();
        let mut owners = Vec::new();
        let mut cursor = 0_u64;
        loop {
            let pattern = &pattern;
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .link
                .run(|mut connection| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT)
                        .arg("TYPE")
                        .arg("list")
                        .query_async(&mut connection)
                        .await
                })
                .await?;
            owners.extend(
                keys.into_iter()
                    .filter_map(|key| key.strip_prefix(prefix.as_slice()).map(<[u8]>::to_vec)),
            );
            if next == 0 {
                return Ok(owners);
            }
            cursor = next;
        }
    }

    /// On a clean stop, once the consumer has ended: gives back whatever this worker still holds
    /// (nothing, normally), deletes its lease and deregisters it, so nothing waits for the
    /// lease to expire.
    pub async fn release_own(&mut self) -> RedisResult<u64> {
        let (keys, release) = (&self.keys, &self.release);
        self.link
            .run(|mut connection| async move {
                release
                    .key(&keys.queue)
                    .key(&keys.processing)
                    .key(&keys.lease)
                    .key(&keys.workers)
                    .arg(&keys.worker_id)
                    .arg("stopping")
                    .invoke_async(&mut connection)
                    .await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_shorter_than_any_lease() {
        for seconds in 1..=60 {
            let lease = Duration::from_secs(seconds);
            assert!(block_for(lease) < lease, "lease {lease:?}");
        }
        assert_eq!(block_for(Duration::from_secs(20)), MAX_BLOCK);
    }

    #[test]
    fn a_queue_name_with_glob_characters_matches_only_itself() {
        assert_eq!(glob_literal(b"votes:"), b"votes:");
        assert_eq!(glob_literal(br"a*b?[c]\"), br"a\*b\?\[c\]\\");
    }
}
