use std::time::{Duration, Instant};

use redis::AsyncCommands;

use test_support::wait_until_async;

use crate::helpers::{TestDatabase, TestQueue, TestWorker, ballot, settings, spawn_process};

/// SPEC section 4: held messages are back in play within 30 s of their worker's death.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn messages_held_by_a_worker_that_never_returns_are_recovered_by_another() {
    // Arrange: a worker "ghost" died holding 300 messages; "alive" holds 5 and its lease runs.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let mut redis = queue.redis.clone();
    let ghost: Vec<String> = (0..300)
        .map(|i| ballot(&format!("ghost-{i}"), "a", 1))
        .collect();
    let alive: Vec<String> = (0..5)
        .map(|i| ballot(&format!("alive-{i}"), "b", 1))
        .collect();
    let _: () = redis
        .rpush(queue.key("processing:ghost"), &ghost)
        .await
        .unwrap();
    let _: () = redis
        .rpush(queue.key("processing:alive"), &alive)
        .await
        .unwrap();
    let _: () = redis
        .sadd(queue.key("workers"), &["ghost", "alive"])
        .await
        .unwrap();
    let _: () = redis
        .set_ex(queue.key("lease:alive"), "alive", 120)
        .await
        .unwrap();

    // Act
    let started = Instant::now();
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 50)).await;
    wait_until_async("the ghost's messages are stored", async || {
        database.vote_count().await == 300
    })
    .await;

    // Assert
    assert!(
        started.elapsed() < RECOVERY_LIMIT,
        "recovered after {:?}",
        started.elapsed()
    );
    assert_eq!(queue.len(&queue.key("processing:ghost")).await, 0);
    let workers: Vec<String> = redis.smembers(queue.key("workers")).await.unwrap();
    assert!(
        !workers.contains(&"ghost".to_owned()),
        "the ghost is forgotten"
    );
    assert_eq!(
        queue.len(&queue.key("processing:alive")).await,
        5,
        "a live worker's batch is left alone"
    );

    // Once that worker's lease lapses too, its messages are recovered as well.
    let _: () = redis.del(queue.key("lease:alive")).await.unwrap();
    wait_until_async("the lapsed worker's messages are stored", async || {
        database.vote_count().await == 305
    })
    .await;
    database.assert_tally_exact().await;
    worker.stop().await;
}

#[tokio::test]
async fn a_processing_list_of_a_worker_that_never_registered_is_recovered() {
    // Arrange: a list under a worker id that no lease and no registration ever named, as a
    // read that lands after its worker's release leaves it.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let unknown: Vec<String> = (0..40)
        .map(|i| ballot(&format!("unknown-{i}"), "b", 1))
        .collect();
    let _: () = queue
        .redis
        .clone()
        .rpush(queue.key("processing:never-registered"), &unknown)
        .await
        .unwrap();

    // Act
    let started = Instant::now();
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 50)).await;
    wait_until_async("the unknown worker's messages are stored", async || {
        database.vote_count().await == 40
    })
    .await;

    // Assert
    assert!(
        started.elapsed() < RECOVERY_LIMIT,
        "recovered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        queue.len(&queue.key("processing:never-registered")).await,
        0
    );
    worker.stop().await;
    assert_eq!(queue.processing_lists().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_worker_killed_mid_drain_and_started_again_stores_every_vote_exactly_once() {
    // Arrange: 20,000 voters, one vote each, drained in small batches so the kill lands mid-way.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let voters = 20_000_i64;
    let messages: Vec<String> = (0..voters)
        .map(|i| ballot(&format!("k-{i}"), if i % 4 == 0 { "a" } else { "b" }, i))
        .collect();
    queue.push(&messages).await;
    let mut first = spawn_process(&database.url(), &queue.name, 40, 0);
    wait_until_async("the first worker has stored some votes", async || {
        database.vote_count().await > 0
    })
    .await;

    // Act
    first.start_kill().expect("SIGKILL is delivered");
    first.wait().await.expect("the killed worker is reaped");
    let stored_at_kill = database.vote_count().await;
    let mut second = spawn_process(&database.url(), &queue.name, 1000, 0);
    wait_until_async("every vote is stored", async || {
        database.vote_count().await == voters
    })
    .await;

    // Assert
    assert!(stored_at_kill < voters, "the kill landed mid-drain");
    let tally = database.tally().await;
    assert_eq!(tally["a"], voters / 4);
    assert_eq!(tally["b"], voters - voters / 4);
    database.assert_tally_exact().await;
    wait_until_async("nothing is held any more", async || {
        queue.messages_in_redis().await == 0
    })
    .await;
    second.start_kill().expect("stopping the second worker");
    second.wait().await.expect("reaped");
}
