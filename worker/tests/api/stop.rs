//! SPEC section 6 for the worker process: SIGTERM ends it with status 0 within 10 s of the
//! signal, by its orderly stop (not the exit watchdog), also when Redis or PostgreSQL hangs
//! and while it is still starting; and a hung service costs no vote.

use std::time::Duration;

use test_support::{LOCAL_REDIS, OwnRedis, POSTGRES_ADDRESS, wait_until_async};

use crate::helpers::{
    TcpProxy, TestDatabase, TestQueue, TestWorker, WorkerProcess, ballot, http, settings,
};

/// Enough votes that the drain, in batches of 100, is still busy when the service freezes.
const VOTES: i64 = 20_000;

fn votes() -> Vec<String> {
    (0..VOTES)
        .map(|i| ballot(&format!("s-{i}"), if i % 2 == 0 { "a" } else { "b" }, i))
        .collect()
}

/// Drains whatever the stopped worker left in Redis with a fresh worker, and checks that every
/// vote is stored once and nothing is held any more.
async fn assert_every_vote_stored(database: &TestDatabase, redis_url: &str, queue: &str) {
    let mut worker_settings = settings(&database.url(), queue, 1_000);
    worker_settings.redis_url = redis_url.to_owned();
    let worker = TestWorker::spawn(worker_settings).await;
    wait_until_async("every vote is stored", async || {
        database.vote_count().await == VOTES
    })
    .await;
    database.assert_tally_exact().await;
    worker.stop().await;
}

#[tokio::test]
async fn sigterm_finishes_the_batch_in_hand_and_exits_zero_within_ten_seconds_holding_nothing() {
    // Arrange
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let mut worker = WorkerProcess::start(LOCAL_REDIS, &database.url(), &queue.name);
    worker.wait_ready().await;
    queue.push(&votes()).await;
    wait_until_async("the drain has begun", async || {
        database.vote_count().await > 0
    })
    .await;

    // Act
    let (exit, took) = worker.terminate().await;

    // Assert: every vote is either stored or back in the queue; none is held by the stopped
    // worker, which is forgotten.
    worker.assert_stopped_in_time(exit, took).await;
    let stored = database.vote_count().await;
    assert_eq!(stored + queue.len(&queue.name).await as i64, VOTES);
    assert_eq!(queue.processing_lists().await, Vec::<String>::new());
    let workers: Vec<String> =
        redis::AsyncCommands::smembers(&mut queue.redis.clone(), queue.key("workers"))
            .await
            .unwrap();
    assert!(workers.is_empty(), "deregistered: {workers:?}");
}

#[tokio::test]
async fn sigterm_with_redis_frozen_mid_drain_exits_zero_within_ten_seconds() {
    // Arrange: a worker draining from a Redis of the test's own, frozen mid-drain.
    let database = TestDatabase::create().await;
    let mut redis = OwnRedis::start();
    let queue = "frozen_redis";
    let mut worker = WorkerProcess::start(&redis.url(), &database.url(), queue);
    worker.wait_ready().await;
    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::AsyncCommands::rpush(&mut connection, queue, votes())
        .await
        .unwrap();
    wait_until_async("the drain has begun", async || {
        database.vote_count().await > 0
    })
    .await;
    redis.signal("-STOP");

    // Act
    let (exit, took) = worker.terminate().await;

    // Assert
    worker.assert_stopped_in_time(exit, took).await;
    redis.signal("-CONT");
    assert_every_vote_stored(&database, &redis.url(), queue).await;
    redis.stop();
}

#[tokio::test]
async fn sigterm_with_postgres_hanging_mid_batch_exits_zero_in_time_and_gives_the_batch_back() {
    // Arrange: a worker reaching PostgreSQL through a proxy that stops forwarding mid-drain.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let proxy = TcpProxy::start(POSTGRES_ADDRESS).await;
    let mut worker =
        WorkerProcess::start(LOCAL_REDIS, &database.url_via(proxy.address), &queue.name);
    worker.wait_ready().await;
    queue.push(&votes()).await;
    wait_until_async("the drain has begun", async || {
        database.vote_count().await > 0
    })
    .await;
    proxy.freeze();
    // Long enough for the drain to be waiting on a batch that will not commit.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Act
    let (exit, took) = worker.terminate().await;

    // Assert: in time, and the batch it could not store is back in the queue at once.
    worker.assert_stopped_in_time(exit, took).await;
    assert!(worker.logged("gave the unfinished batch back to the queue"));
    assert_eq!(
        queue.processing_lists().await,
        Vec::<String>::new(),
        "the stopped worker holds nothing"
    );
    assert_every_vote_stored(&database, LOCAL_REDIS, &queue.name).await;
}

#[tokio::test]
async fn sigterm_while_starting_up_behind_another_migration_exits_zero_in_time() {
    // Arrange: another replica holds the migration lock, so this worker waits in its start-up
    // (unready) for as long as that migration takes.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let other_replica = database.connect().await;
    other_replica
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            worker::schema::MIGRATION_LOCK
        ))
        .await
        .unwrap();
    let mut worker = WorkerProcess::start(LOCAL_REDIS, &database.url(), &queue.name);
    wait_until_async("the worker waits for the migration lock", async || {
        let waiting: i64 = database
            .client
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        waiting > 0
    })
    .await;
    wait_until_async("readiness says the schema is not there yet", async || {
        http(worker.port, "GET", "/readyz")
            .await
            .is_ok_and(|(status, body)| status == 503 && body.contains("schema"))
    })
    .await;

    // Act
    let (exit, took) = worker.terminate().await;

    // Assert
    worker.assert_stopped_in_time(exit, took).await;
    other_replica.batch_execute("COMMIT").await.unwrap();
}
