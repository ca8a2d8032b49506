//! The poll reset that docs/worker.md documents, run as written: it clears the stored votes and
//! every vote still in Redis, so nothing comes back after it.

use std::{process::Command, time::Duration};

use redis::AsyncCommands;
use test_support::{LOCAL_REDIS, wait_until_async};

use crate::helpers::{TEST_LEASE, TestDatabase, TestQueue, TestWorker, ballot, settings};

/// The command lines of the first `sh` block after "Reset the poll" in docs/worker.md.
fn documented_reset() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/worker.md"))
        .expect("docs/worker.md is readable");
    let section = &doc[doc.find("Reset the poll").expect("the reset is documented")..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the reset is an sh block");
    block
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_documented_reset_clears_stored_queued_held_and_dead_votes() {
    // Arrange: votes stored, then votes queued, held by a live worker, and dead, with no
    // worker running.
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 100)).await;
    queue
        .push(&[
            ballot("s1", "a", 1),
            ballot("s2", "b", 1),
            ballot("s3", "b", 1),
        ])
        .await;
    wait_until_async("the first votes are stored", async || {
        database.vote_count().await == 3
    })
    .await;
    worker.stop().await;
    let queued: Vec<String> = (0..4).map(|i| ballot(&format!("q{i}"), "a", 2)).collect();
    queue.push(&queued).await;
    let mut redis = queue.redis.clone();
    let held = queue.key("processing:ghost");
    let _: () = redis
        .rpush(&held, &[ballot("h1", "b", 2), ballot("h2", "b", 2)])
        .await
        .unwrap();
    let lease = queue.key("lease:ghost");
    let _: () = redis.set_ex(&lease, "alive", 60).await.unwrap();
    let _: () = redis.rpush(queue.key("dead"), "not json").await.unwrap();

    // Act: the documented line, in a shell, as an operator runs it.
    let reset = Command::new("sh")
        .args(["-c", &documented_reset()])
        .env("REDIS_URL", LOCAL_REDIS)
        .env("DATABASE_URL", database.url())
        .env("VOTE_QUEUE", &queue.name)
        .output()
        .expect("sh runs");
    assert!(
        reset.status.success(),
        "{}{}",
        String::from_utf8_lossy(&reset.stdout),
        String::from_utf8_lossy(&reset.stderr)
    );

    // Assert: nothing stored, and of the queue's keys only the live worker's lease is left.
    assert_eq!(database.vote_count().await, 0);
    assert!(database.tally().await.is_empty());
    assert_eq!(queue.keys().await, vec![lease.clone()]);
    // A worker starting now, once the holder's lease is gone, finds nothing to store.
    let _: () = redis.del(&lease).await.unwrap();
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 100)).await;
    wait_until_async("the new worker is ready", async || {
        worker.get("/readyz").await.0 == 200
    })
    .await;
    // Two housekeeping rounds (a third of the lease each): recovery has looked by then.
    tokio::time::sleep(TEST_LEASE * 2 / 3 + Duration::from_millis(500)).await;
    assert_eq!(database.vote_count().await, 0);
    assert_eq!(queue.messages_in_redis().await, 0);
    worker.stop().await;
}
