use std::time::Duration;

use redis::AsyncCommands;
use worker::queue::{Queue, QueueKeys};

use test_support::LOCAL_REDIS;

use crate::helpers::{TEST_LEASE, TestQueue, ballot};

fn queue_for(test: &TestQueue, batch_size: usize) -> Queue {
    let client = redis::Client::open(LOCAL_REDIS).expect("a valid URL");
    Queue::new(
        client,
        QueueKeys::new(&test.name, "me"),
        batch_size,
        TEST_LEASE,
    )
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
    let batch = queue.take().await.expect("a batch");

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
    let test = TestQueue::create().await;
    let mut queue = queue_for(&test, 100);
    let taking = tokio::spawn(async move { queue.take().await });
    // Give the take time to block: the outcome is the same if it has not yet.
    tokio::time::sleep(Duration::from_millis(300)).await;

    test.push(&[ballot("late", "a", 1)]).await;

    let batch = taking.await.unwrap().expect("a batch");
    assert_eq!(batch, [ballot("late", "a", 1).into_bytes()]);
    let workers: Vec<String> = test
        .redis
        .clone()
        .smembers(test.key("workers"))
        .await
        .unwrap();
    assert_eq!(workers, ["me"], "a worker holding messages is registered");
    assert!(
        test.redis
            .clone()
            .exists::<_, bool>(test.key("lease:me"))
            .await
            .unwrap()
    );
}
