use std::time::Duration;

use test_support::wait_until_async;

use crate::helpers::{
    TestDatabase, TestQueue, TestWorker, ballot, listen, notifications_before_marker, settings,
};

async fn migrated() -> TestDatabase {
    let mut database = TestDatabase::create().await;
    worker::schema::migrate(&mut database.client)
        .await
        .expect("migrates");
    database
}

/// How long two transactions may take to commit before the test calls it a hang: a lock
/// wait that PostgreSQL does not detect as a deadlock would otherwise hang the test.
const COMMIT_PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_tally_equals_the_group_by_after_plain_sql_and_each_write_notifies_once() {
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
        assert_eq!(
            notifications_before_marker(sql, &mut notifications).await,
            1,
            "notifications after {step}"
        );
    }
    assert_eq!(database.tally().await["a"], 1);

    // A transaction that changes no row sends nothing; a rolled-back one changes nothing.
    sql.batch_execute("UPDATE votes SET vote = 'b' WHERE id = 'nobody'")
        .await
        .unwrap();
    sql.batch_execute("DELETE FROM votes WHERE id = 'nobody'")
        .await
        .unwrap();
    sql.batch_execute("BEGIN; DELETE FROM votes; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(
        notifications_before_marker(sql, &mut notifications).await,
        0,
        "a transaction that changed nothing notified"
    );
    database.assert_tally_exact().await;
    let pending: i64 = sql
        .query_one("SELECT count(*) FROM vote_tally_pending", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0, "nothing is left pending after commit");
}

/// Whether the backend `pid` waits for a lock right now.
async fn waits_for_a_lock(database: &TestDatabase, pid: i32) -> bool {
    database
        .client
        .query_one(
            "SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await
        .expect("reading pg_stat_activity")
        .get(0)
}

/// Runs `statements` on `client` (a transaction in progress) in a task of its own, and
/// waits until it blocks on a lock; the result comes through the handle.
async fn start_blocked(
    database: &TestDatabase,
    client: tokio_postgres::Client,
    statements: &'static str,
) -> tokio::task::JoinHandle<Result<(), tokio_postgres::Error>> {
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let running = tokio::spawn(async move { client.batch_execute(statements).await });
    wait_until_async("the transaction waits for the tally row", async || {
        waits_for_a_lock(database, pid).await
    })
    .await;
    running
}

#[tokio::test]
async fn transactions_changing_both_options_in_opposite_orders_do_not_deadlock() {
    // Arrange: two transactions whose net changes touch both tally rows: the first adds two
    // votes for a, then takes one from b; the second adds two for b, then takes one from a.
    // They touch distinct vote rows, so only the tally can make them wait on each other.
    let database = migrated().await;
    database
        .client
        .batch_execute("INSERT INTO votes (id, vote) VALUES ('x', 'a'), ('y', 'b')")
        .await
        .unwrap();
    let first = database.connect().await;
    let second = database.connect().await;
    first
        .batch_execute("BEGIN; INSERT INTO votes (id, vote) VALUES ('a1', 'a'), ('a2', 'a')")
        .await
        .unwrap();
    second
        .batch_execute("BEGIN; INSERT INTO votes (id, vote) VALUES ('b1', 'b'), ('b2', 'b')")
        .await
        .unwrap();
    // A reader holding the tally row of a makes both commits queue up behind it, the first
    // one first, so that they then run interleaved rather than one after the other: a commit
    // that locked its own options first (b before a, for the second) would deadlock here.
    let reader = database.connect().await;
    reader
        .batch_execute("BEGIN; SELECT n FROM vote_tally WHERE vote = 'a' FOR UPDATE")
        .await
        .unwrap();

    // Act
    let one = start_blocked(&database, first, "DELETE FROM votes WHERE id = 'y'; COMMIT").await;
    let two = start_blocked(
        &database,
        second,
        "DELETE FROM votes WHERE id = 'x'; COMMIT",
    )
    .await;
    reader.batch_execute("COMMIT").await.unwrap();
    let (one, two) = tokio::time::timeout(COMMIT_PATIENCE, async { tokio::join!(one, two) })
        .await
        .expect("both transactions end: no undetected lock wait");

    // Assert
    one.unwrap().expect("the first commits");
    two.unwrap().expect("the second commits");
    database.assert_tally_exact().await;
    assert_eq!(
        database.tally().await,
        [("a".to_owned(), 2), ("b".to_owned(), 2)].into()
    );
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
