use test_support::{PATIENCE, wait_until_async};

use crate::helpers::{TestDatabase, TestQueue, TestWorker, ballot, listen, settings};

async fn migrated() -> TestDatabase {
    let mut database = TestDatabase::create().await;
    worker::schema::migrate(&mut database.client)
        .await
        .expect("migrates");
    database
}

#[tokio::test]
async fn the_tally_equals_the_group_by_after_plain_sql_and_each_write_notifies() {
    let database = migrated().await;
    let (_listener, mut notifications) = listen(&database.url()).await;
    let sql = &database.client;
    let steps = [
        "INSERT INTO votes (id, vote) VALUES ('p1', 'a'), ('p2', 'a'), ('p3', 'b')",
        "UPDATE votes SET vote = 'b' WHERE id = 'p1'",
        "UPDATE votes SET vote = 'a'",
        "INSERT INTO votes (id, vote) VALUES ('p4', 'other')",
        "DELETE FROM votes WHERE id IN ('p2', 'p4')",
        "BEGIN; INSERT INTO votes (id, vote) VALUES ('p5', 'b'); SAVEPOINT s; \
         DELETE FROM votes; ROLLBACK TO SAVEPOINT s; UPDATE votes SET vote = 'b' WHERE id = 'p3'; COMMIT",
        "BEGIN; INSERT INTO votes (id, vote) VALUES ('p6', 'a'); TRUNCATE votes; \
         INSERT INTO votes (id, vote) VALUES ('p7', 'b'); COMMIT",
        "TRUNCATE votes",
        "INSERT INTO votes (id, vote) VALUES ('p8', 'a')",
    ];
    for step in steps {
        sql.batch_execute(step).await.expect(step);
        database.assert_tally_exact().await;
        let channel = tokio::time::timeout(PATIENCE, notifications.recv())
            .await
            .unwrap_or_else(|_| panic!("no notification after {step}"));
        assert_eq!(channel.as_deref(), Some("votes_changed"));
    }
    assert_eq!(database.tally().await["a"], 1);

    // A transaction that changes no row sends nothing; a rolled-back one changes nothing.
    sql.batch_execute("UPDATE votes SET vote = 'b' WHERE id = 'nobody'")
        .await
        .unwrap();
    sql.batch_execute("BEGIN; DELETE FROM votes; ROLLBACK")
        .await
        .unwrap();
    sql.batch_execute("INSERT INTO votes (id, vote) VALUES ('p9', 'b')")
        .await
        .unwrap();
    assert!(notifications.recv().await.is_some());
    assert!(
        notifications.try_recv().is_err(),
        "one notification per changing transaction"
    );
    database.assert_tally_exact().await;
    let pending: i64 = sql
        .query_one("SELECT count(*) FROM vote_tally_pending", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0, "nothing is left pending after commit");
}

#[tokio::test]
async fn transactions_changing_both_options_in_opposite_orders_do_not_deadlock() {
    let database = migrated().await;
    database
        .client
        .batch_execute(
            "INSERT INTO votes (id, vote) VALUES ('x1', 'a'), ('x2', 'a'), ('y1', 'b'), ('y2', 'b')",
        )
        .await
        .unwrap();
    let first = database.connect().await;
    let second = database.connect().await;

    // Each moves one vote a->b and one b->a, in opposite orders, interleaved.
    first
        .batch_execute("BEGIN; UPDATE votes SET vote = 'b' WHERE id = 'x1'")
        .await
        .unwrap();
    second
        .batch_execute("BEGIN; UPDATE votes SET vote = 'a' WHERE id = 'y1'")
        .await
        .unwrap();
    first
        .batch_execute("UPDATE votes SET vote = 'a' WHERE id = 'y2'")
        .await
        .unwrap();
    second
        .batch_execute("UPDATE votes SET vote = 'b' WHERE id = 'x2'")
        .await
        .unwrap();
    let (one, two) = tokio::join!(
        first.batch_execute("COMMIT"),
        second.batch_execute("COMMIT")
    );

    one.expect("the first commits");
    two.expect("the second commits");
    database.assert_tally_exact().await;
}

#[tokio::test]
async fn the_tally_stays_exact_with_several_workers_and_plain_sql_writing_at_once() {
    let database = migrated().await;
    let queue = TestQueue::create().await;
    let workers = [
        TestWorker::spawn(settings(&database.url(), &queue.name, 17)).await,
        TestWorker::spawn(settings(&database.url(), &queue.name, 29)).await,
    ];
    let messages: Vec<String> = (0..2_000)
        .map(|i| {
            ballot(
                &format!("w-{}", i % 400),
                if i % 3 == 0 { "a" } else { "b" },
                i,
            )
        })
        .collect();
    let sql = database.connect().await;

    // Act: the workers drain while a person inserts, flips and deletes rows of the same voters.
    queue.push(&messages).await;
    for round in 0..40 {
        let statement = match round % 4 {
            0 => format!("INSERT INTO votes (id, vote) VALUES ('sql-{round}', 'a')"),
            1 => format!("UPDATE votes SET vote = 'a' WHERE id = 'w-{round}'"),
            2 => format!("DELETE FROM votes WHERE id = 'w-{}'", round + 100),
            _ => format!("UPDATE votes SET vote = 'b' WHERE id LIKE 'w-{round}%'"),
        };
        sql.batch_execute(&statement).await.expect(&statement);
    }
    wait_until_async("the queue is drained", async || {
        queue.messages_in_redis().await == 0
    })
    .await;

    database.assert_tally_exact().await;
    for worker in workers {
        worker.stop().await;
    }
}
