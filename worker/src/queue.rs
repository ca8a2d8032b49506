//! The Redis side of the drain: at-least-once consumption of the list `VOTE_QUEUE`.
//!
//! A worker moves each batch atomically from the queue into its own processing list and
//! deletes that list only after the batch has committed in PostgreSQL, so a message is always
//! in Redis until it is stored. Each worker holds a lease that it renews; any worker moves the
//! processing list of a worker whose lease has expired back to the head of the queue. Worker
//! ids are unique per process, so a restarted worker never takes over its old list: recovery
//! does not depend on the same worker coming back.
//!
//! Keys, all starting with `<queue>:` (SPEC section 2):
//! - `<queue>:processing:<worker id>`: the messages a worker holds (the batch in hand).
//! - `<queue>:lease:<worker id>`: present while the worker is alive (expires with a TTL).
//! - `<queue>:workers`: the ids of workers that may hold messages.
//! - `<queue>:dead`: malformed messages as received, newest last, capped.

use std::time::Duration;

use redis::{AsyncConnectionConfig, RedisResult, Script, aio::MultiplexedConnection};

/// How many dead letters are kept (SPEC section 4): the newest ones.
pub const DEAD_LETTER_CAP: isize = 10_000;
/// Connecting to Redis takes longer than this only when it is down or unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A command (even a batch-sized script) answers well within this unless Redis is in trouble;
/// short enough that a hung connection is noticed long before a lease expires.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the blocking read waits for a message on an empty queue before it asks again. An
/// idle worker costs Redis one command per this period; shutdown does not wait for it.
const BLOCK: Duration = Duration::from_secs(5);

/// Fills the processing list up to ARGV[1] messages from the head of the queue and returns
/// everything in it: a message moved by an earlier take whose answer was lost (a timeout, a
/// dropped connection) is in the batch too, so acknowledging the batch by deleting the list
/// never deletes a message that was not stored. Renews the lease and registration in the same
/// atomic step, so a worker never holds messages while it is unknown to recovery. RPUSH goes
/// in chunks: Lua's unpack has a limit on how many values it spreads.
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

/// Gives the messages held by workers back to the head of the queue, in their order, and
/// forgets those workers. KEYS[1]: the workers set, KEYS[2]: the queue; ARGV[1]: the key
/// prefix; ARGV[2]: a worker id to release now (a worker stopping), or '' to release every
/// worker whose lease has expired. Returns how many messages went back.
const RELEASE_SCRIPT: &str = r"
local moved = 0
local function release(id)
  local processing = ARGV[1] .. 'processing:' .. id
  while redis.call('LMOVE', processing, KEYS[2], 'RIGHT', 'LEFT') do
    moved = moved + 1
  end
  redis.call('DEL', ARGV[1] .. 'lease:' .. id)
  redis.call('SREM', KEYS[1], id)
end
if ARGV[2] ~= '' then
  release(ARGV[2])
else
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if redis.call('EXISTS', ARGV[1] .. 'lease:' .. id) == 0 then
      release(id)
    end
  end
end
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

    /// A handle on the connection (cheap to clone: it shares one socket).
    async fn connection(&mut self) -> RedisResult<MultiplexedConnection> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        self.connection = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `command` on the connection; after an error the connection is dropped.
    async fn run<T, F>(
        &mut self,
        command: impl FnOnce(MultiplexedConnection) -> F,
    ) -> RedisResult<T>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let result = command(self.connection().await?).await;
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
    commands: RedisLink,
    /// The blocking read gets its own connection: on a shared one it would hold up every other
    /// command for as long as it blocks. Its response timeout is longer than the block.
    blocking: RedisLink,
    take: Script,
}

impl Queue {
    pub fn new(
        client: redis::Client,
        keys: QueueKeys,
        batch_size: usize,
        lease: Duration,
    ) -> Queue {
        Queue {
            keys,
            batch_size,
            lease,
            commands: RedisLink::new(client.clone(), RESPONSE_TIMEOUT),
            blocking: RedisLink::new(client, BLOCK + RESPONSE_TIMEOUT),
            take: Script::new(TAKE_SCRIPT),
        }
    }

    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// The next batch, as received: up to the batch size at once when the queue has messages;
    /// when it is empty, waits (without polling) up to the block time for the first one. An
    /// empty batch means the queue stayed empty. The batch is exactly this worker's processing
    /// list, where it stays until [`Queue::acknowledge`].
    pub async fn take(&mut self) -> RedisResult<Vec<Vec<u8>>> {
        let batch = self.take_now().await?;
        if !batch.is_empty() {
            return Ok(batch);
        }
        // Renewed right before blocking: a BLMOVE cannot register the worker by itself, and
        // the lease outlasts the block.
        let (keys, lease) = (&self.keys, self.lease);
        self.commands
            .run(|mut connection| async move { register(&mut connection, keys, lease).await })
            .await?;
        let arrived: Option<Vec<u8>> = self
            .blocking
            .run(|mut connection| async move {
                redis::cmd("BLMOVE")
                    .arg(&keys.queue)
                    .arg(&keys.processing)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .arg(BLOCK.as_secs_f64())
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        match arrived {
            // The message is in the processing list; the batch is read from there.
            Some(_) => self.take_now().await,
            None => Ok(Vec::new()),
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
    /// (capped) and empties the processing list, in one atomic step.
    pub async fn acknowledge(&mut self, dead_letters: &[&[u8]]) -> RedisResult<()> {
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
                pipe.del(&keys.processing).ignore();
                pipe.query_async(&mut connection).await
            })
            .await
    }
}

/// Renews the lease and registration, recovers what expired workers held, and reads the queue
/// depth: the periodic Redis chores, on a connection of their own.
pub struct Housekeeper {
    keys: QueueKeys,
    lease: Duration,
    link: RedisLink,
    release: Script,
}

/// What one round of housekeeping found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chores {
    /// Messages given back to the queue from workers whose lease had expired.
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

    pub async fn run_chores(&mut self) -> RedisResult<Chores> {
        let (keys, lease) = (&self.keys, self.lease);
        self.link
            .run(|mut connection| async move { register(&mut connection, keys, lease).await })
            .await?;
        let recovered = self.release_workers("").await?;
        let keys = &self.keys;
        let queue_depth = self
            .link
            .run(|mut connection| async move {
                redis::cmd("LLEN")
                    .arg(&keys.queue)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(Chores {
            recovered,
            queue_depth,
        })
    }

    /// On a clean stop: gives back whatever this worker still holds (nothing, normally) and
    /// deregisters it, so nothing waits for its lease to expire.
    pub async fn release_own(&mut self) -> RedisResult<u64> {
        let worker_id = self.keys.worker_id.clone();
        self.release_workers(&worker_id).await
    }

    async fn release_workers(&mut self, worker_id: &str) -> RedisResult<u64> {
        let (keys, release) = (&self.keys, &self.release);
        self.link
            .run(|mut connection| async move {
                release
                    .key(&keys.workers)
                    .key(&keys.queue)
                    .arg(&keys.prefix)
                    .arg(worker_id)
                    .invoke_async(&mut connection)
                    .await
            })
            .await
    }
}

/// Marks this worker alive for one lease and known to recovery, atomically.
async fn register(
    connection: &mut MultiplexedConnection,
    keys: &QueueKeys,
    lease: Duration,
) -> RedisResult<()> {
    redis::pipe()
        .atomic()
        .set_ex(&keys.lease, &keys.worker_id, lease.as_secs())
        .ignore()
        .sadd(&keys.workers, &keys.worker_id)
        .ignore()
        .query_async(connection)
        .await
}
