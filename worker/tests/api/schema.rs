use worker::schema;

use crate::helpers::TestDatabase;

#[tokio::test]
async fn several_workers_migrating_at_once_all_succeed_and_apply_each_version_once() {
    let database = TestDatabase::create().await;
    let mut migrations = Vec::new();
    for _ in 0..4 {
        let mut client = database.connect().await;
        migrations.push(tokio::spawn(
            async move { schema::migrate(&mut client).await },
        ));
    }

    for migration in migrations {
        let version = migration.await.expect("no panic");
        assert_eq!(
            version.expect("every migration succeeds"),
            schema::latest_version()
        );
    }
    let versions: Vec<i32> = database
        .client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, (1..=schema::latest_version()).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_originals_table_gains_ts_and_a_tally_of_its_rows() {
    // Arrange: the table as the original worker creates it, with its rows, and a stale tally
    // that something else made.
    let mut database = TestDatabase::create().await;
    database
        .client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL);
             INSERT INTO votes (id, vote) VALUES ('o1', 'a'), ('o2', 'b'), ('o3', 'b');
             CREATE TABLE vote_tally (vote TEXT PRIMARY KEY, n BIGINT NOT NULL);
             INSERT INTO vote_tally VALUES ('a', 99), ('c', 1);",
        )
        .await
        .unwrap();

    schema::migrate(&mut database.client)
        .await
        .expect("migrates");

    let votes = database.votes().await;
    assert_eq!(
        votes["o1"],
        ("a".to_owned(), 0),
        "existing rows count as time 0"
    );
    assert_eq!(database.tally().await, database.group_by().await);
    assert_eq!(database.tally().await["b"], 2);
    // The original's own statements keep working.
    database
        .client
        .batch_execute("INSERT INTO votes (id, vote) VALUES ('o4', 'a'); UPDATE votes SET vote = 'a' WHERE id = 'o2';")
        .await
        .unwrap();
    database.assert_tally_exact().await;
}

#[tokio::test]
async fn a_worker_runs_on_a_schema_newer_than_it_knows() {
    let mut database = TestDatabase::create().await;
    schema::migrate(&mut database.client).await.unwrap();
    database
        .client
        .execute(
            "INSERT INTO schema_version (version, name) VALUES (99, 'from the future')",
            &[],
        )
        .await
        .unwrap();

    let version = schema::migrate(&mut database.client)
        .await
        .expect("no error");

    assert_eq!(version, 99);
}
