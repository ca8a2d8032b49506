use std::time::Instant;

use redis::AsyncCommands;
use service_kit::lifecycle::Lifecycle;
use worker::queue::{Housekeeper, Queue, QueueKeys, block_for};

use test_support::{LOCAL_REDIS, OwnRedis, PATIENCE, wait_until_async};

use crate::helpers::{TEST_LEASE, TestQueue, ballot};

fn queue_on(url: &str, name: &str, worker_id: &str, batch_size: usize) -> Queue {
    let client = redis::Client::open(url).expect("a valid URL");
    Queue::new(
        client,
        QueueKeys::new(name, worker_id),
        batch_size,
        TEST_LEASE,
    )
}

fn queue_for(test: &TestQueue, batch_size: usize) -> Queue {
    queue_on(LOCAL_REDIS, &test.name, "me", batch_size)
}

fn housekeeper_on(url: &str, name: &str, worker_id: &str) -> Housekeeper {
    let client = redis::Client::open(url).expect("a valid URL");
    Housekeeper::new(client, QueueKeys::new(name, worker_id), TEST_LEASE)
}

/// A Redis of the test's own, where the blocked clients are the test's only.
struct Isolated {
    redis: OwnRedis,
    connection: redis::aio::MultiplexedConnection,
}

impl Isolated {
    async fn start() -> Isolated {
        let redis = OwnRedis::start();
        let connection = redis::Client::open(redis.url())
            .expect("a valid URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test's Redis answers");
        Isolated { redis, connection }
    }

    fn url(&self) -> String {
        self.redis.url()
    }

    async fn blocked_clients(&self) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(&mut self.connection.clone())
            .await
            .expect("INFO");
        info.lines()
            .find_map(|line| line.strip_prefix("blocked_clients:"))
            .and_then(|count| count.trim().parse().ok())
            .expect("INFO clients has blocked_clients")
    }

    async fn wait_blocked(&self) {
        wait_until_async("the read blocks in Redis", async || {
            self.blocked_clients().await == 1
        })
        .await;
    }

    async fn len(&self, key: &str) -> usize {
        self.connection.clone().llen(key).await.expect("LLEN")
    }

    async fn push(&self, key: &str, message: &str) {
        let _: () = self
            .connection
            .clone()
            .rpush(key, message)
            .await
            .expect("RPUSH");
    }
}

#[tokio::test]
async fn a_message_moved_by_a_take_whose_answer_was_lost_is_in_the_next_batch() {
    // Arrange: a message already in this worker's processing list, as a BLMOVE or a take
    // leaves it when its answer never arrives.
    let test = TestQueue::create().await;
    let mut redis = test.redis.clone();
    let orphan = ballot("orphan", "a", 1);
    let _: () = redis
        .rpush(test.key("processing:me"), &orphan)
        .await
        .unwrap();
    test.push(&[
        ballot("next-1", "b", 2),
        ballot("next-2", "b", 3),
        ballot("next-3", "a", 4),
    ])
    .await;
    let mut queue = queue_for(&test, 3);

    // Act
    let batch = queue.take(&Lifecycle::new()).await.expect("a batch");

    // Assert: the batch is the whole processing list, within the batch size.
    let batch: Vec<String> = batch
        .into_iter()
        .map(|m| String::from_utf8(m).unwrap())
        .collect();
    assert_eq!(
        batch,
        [orphan, ballot("next-1", "b", 2), ballot("next-2", "b", 3)]
    );
    queue.acknowledge(&[]).await.expect("acknowledged");
    assert_eq!(test.len(&test.key("processing:me")).await, 0);
    assert_eq!(test.len(&test.name).await, 1, "the rest waits in the queue");
}

#[tokio::test]
async fn an_empty_queue_blocks_the_take_until_a_message_arrives() {
    let isolated = Isolated::start().await;
    let mut queue = queue_on(&isolated.url(), "q", "me", 100);
    let taking = tokio::spawn(async move { queue.take(&Lifecycle::new()).await });
    isolated.wait_blocked().await;

    isolated.push("q", &ballot("late", "a", 1)).await;

    let batch = taking.await.unwrap().expect("a batch");
    assert_eq!(batch, [ballot("late", "a", 1).into_bytes()]);
    assert!(
        isolated
            .connection
            .clone()
            .exists::<_, bool>("q:lease:me")
            .await
            .unwrap(),
        "a worker holding messages has a live lease"
    );
}

#[tokio::test]
async fn a_stop_during_the_read_returns_only_once_redis_has_answered_it() {
    // Arrange: a take blocked in Redis on an empty queue.
    let isolated = Isolated::start().await;
    let mut queue = queue_on(&isolated.url(), "q", "me", 100);
    let lifecycle = Lifecycle::new();
    let stopping = lifecycle.clone();
    // The queue comes back with the batch: its connection stays open, as in a worker that goes
    // on to its release.
    let taking = tokio::spawn(async move {
        let taken = queue.take(&stopping).await;
        (taken, queue)
    });
    isolated.wait_blocked().await;

    // Act
    let stopped = Instant::now();
    lifecycle.begin_shutdown();
    let (taken, _queue) = tokio::time::timeout(PATIENCE, taking)
        .await
        .expect("the take returns")
        .unwrap();
    let batch = taken.expect("no error");

    // Assert: the read is over in Redis, not merely abandoned by the worker, so that a vote
    // pushed now stays in the queue; and it was ended, not left to run out its block.
    assert_eq!(
        isolated.blocked_clients().await,
        0,
        "the read still blocks in Redis"
    );
    assert!(batch.is_empty());
    assert!(
        stopped.elapsed() < block_for(TEST_LEASE),
        "the stop waited {:?} for the block to run out",
        stopped.elapsed()
    );
    isolated.push("q", &ballot("after", "a", 1)).await;
    assert_eq!(isolated.len("q").await, 1, "the vote waits in the queue");
    assert_eq!(isolated.len("q:processing:me").await, 0);
}

impl Isolated {
    /// Starts a take on an empty queue and abandons it once its read blocks in Redis, with the
    /// queue (and its connection) left open: the read stays pending in Redis, and whatever it
    /// moves lands in the processing list with no one to read the answer, as when a worker
    /// dies or stops mid-read.
    async fn abandoned_read(&self, queue: &mut Queue) {
        let lifecycle = Lifecycle::new();
        let mut take = Box::pin(queue.take(&lifecycle));
        tokio::select! {
            taken = &mut take => panic!("the take returned on an empty queue: {taken:?}"),
            () = self.wait_blocked() => {}
        }
    }

    /// Pushes a vote to the queue `q` and waits until the abandoned read has moved it.
    async fn push_into_the_read(&self) {
        self.push("q", &ballot("in-the-window", "a", 1)).await;
        wait_until_async("the read has moved the vote", async || {
            self.len("q:processing:me").await == 1
        })
        .await;
    }
}

#[tokio::test]
async fn a_vote_a_read_moves_after_its_workers_release_is_recovered_by_another_worker() {
    // Arrange: the stranding window of a stop that releases before its read is over: the
    // worker's read still blocks in Redis when its release runs.
    let isolated = Isolated::start().await;
    let mut queue = queue_on(&isolated.url(), "q", "me", 100);
    isolated.abandoned_read(&mut queue).await;
    let mut own = housekeeper_on(&isolated.url(), "q", "me");
    own.release_own().await.expect("released");

    // Act: a vote arrives between the release and the close of the connection.
    isolated.push_into_the_read().await;
    drop(queue);

    // Assert: no lease, no registration, yet another worker's next round gives it back.
    let mut other = housekeeper_on(&isolated.url(), "q", "other");
    assert_eq!(other.run_chores().await.expect("a round").recovered, 1);
    assert_eq!(isolated.len("q:processing:me").await, 0);
    assert_eq!(isolated.len("q").await, 1);
}

#[tokio::test]
async fn a_vote_a_read_moves_after_its_lease_lapsed_is_recovered_by_another_worker() {
    // Arrange: a read in progress whose lease lapses (as when its renewals fail), and whose
    // registration another worker's round clears.
    let isolated = Isolated::start().await;
    let mut queue = queue_on(&isolated.url(), "q", "me", 100);
    isolated.abandoned_read(&mut queue).await;
    let _: () = isolated.connection.clone().del("q:lease:me").await.unwrap();
    let mut other = housekeeper_on(&isolated.url(), "q", "other");
    assert_eq!(other.run_chores().await.expect("a round").recovered, 0);

    // Act: the read moves a vote into the list whose lease is gone; the worker dies before
    // its next take would renew the lease.
    isolated.push_into_the_read().await;
    drop(queue);

    // Assert
    assert_eq!(other.run_chores().await.expect("a round").recovered, 1);
    assert_eq!(isolated.len("q").await, 1);
}

#[tokio::test]
async fn a_live_workers_list_is_left_alone_and_a_queue_name_is_not_a_pattern() {
    // Arrange: on queue "q*", a live worker's list, and a list of the queue "qx", which the
    // pattern `q*:processing:*` would match if the name were not escaped.
    let isolated = Isolated::start().await;
    let mut redis = isolated.connection.clone();
    isolated
        .push("q*:processing:alive", &ballot("a1", "a", 1))
        .await;
    let _: () = redis.set_ex("q*:lease:alive", "alive", 60).await.unwrap();
    isolated
        .push("qx:processing:ghost", &ballot("g1", "a", 1))
        .await;

    // Act
    let mut other = housekeeper_on(&isolated.url(), "q*", "other");
    let chores = other.run_chores().await.expect("a round");

    // Assert
    assert_eq!(chores.recovered, 0);
    assert_eq!(isolated.len("q*:processing:alive").await, 1);
    assert_eq!(isolated.len("qx:processing:ghost").await, 1);
}
