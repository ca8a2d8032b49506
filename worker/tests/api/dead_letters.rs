use test_support::wait_until_async;

use crate::helpers::{TestDatabase, TestQueue, TestWorker, ballot, settings};

#[tokio::test]
async fn each_kind_of_malformed_message_lands_in_the_dead_list_as_received() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let long_id = "x".repeat(256);
    let malformed: Vec<String> = vec![
        "not json at all".to_owned(),
        "[\"a\",\"list\"]".to_owned(),
        r#"{"vote":"a","ts":1}"#.to_owned(),
        r#"{"voter_id":"","vote":"a"}"#.to_owned(),
        format!(r#"{{"voter_id":"{long_id}","vote":"a"}}"#),
        r#"{"voter_id":"nul\u0000id","vote":"a"}"#.to_owned(),
        r#"{"voter_id":"v","vote":"c"}"#.to_owned(),
        r#"{"voter_id":"v"}"#.to_owned(),
        r#"{"voter_id":"v","vote":"a","ts":-1}"#.to_owned(),
        r#"{"voter_id":"v","vote":"a","ts":"12"}"#.to_owned(),
        r#"{"voter_id":"v","vote":"a","ts":1.5}"#.to_owned(),
    ];
    let good = [ballot("good-1", "a", 1), ballot("good-2", "b", 2)];
    let mut messages = malformed.clone();
    messages.insert(3, good[0].clone());
    messages.push(good[1].clone());
    // Not UTF-8 at all: stored back byte for byte.
    let binary: Vec<u8> = vec![0xff, 0xfe, b'{', 0x00];
    let mut redis = queue.redis.clone();
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 4)).await;

    queue.push(&messages).await;
    let _: () = redis::AsyncCommands::rpush(&mut redis, &queue.name, &binary)
        .await
        .unwrap();
    wait_until_async("everything is processed", async || {
        queue.len(&queue.key("dead")).await == malformed.len() + 1
            && database.vote_count().await == 2
    })
    .await;

    let mut expected: Vec<Vec<u8>> = malformed.iter().map(|m| m.as_bytes().to_vec()).collect();
    expected.push(binary);
    assert_eq!(queue.list(&queue.key("dead")).await, expected);
    assert_eq!(database.votes().await.len(), 2, "the good ones are stored");
    let (_, metrics) = worker.get("/metrics").await;
    for (reason, count) in [
        ("not_json", 3),
        ("bad_voter_id", 4),
        ("bad_vote", 2),
        ("bad_ts", 3),
    ] {
        let line = format!("worker_dead_letters_total{{reason=\"{reason}\"}} {count}");
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
    worker.stop().await;
}

#[tokio::test]
async fn the_dead_list_keeps_the_newest_ten_thousand() {
    let database = TestDatabase::create().await;
    let queue = TestQueue::create().await;
    let messages: Vec<String> = (0..10_050).map(|i| format!("bad {i}")).collect();
    queue.push(&messages).await;
    let worker = TestWorker::spawn(settings(&database.url(), &queue.name, 1000)).await;

    wait_until_async("the queue is drained", async || {
        queue.len(&queue.name).await == 0
            && queue.list(&queue.key("dead")).await.last() == Some(&b"bad 10049".to_vec())
    })
    .await;

    let dead = queue.list(&queue.key("dead")).await;
    assert_eq!(dead.len(), 10_000);
    assert_eq!(dead[0], b"bad 50".to_vec(), "the oldest were dropped");
    worker.stop().await;
}
