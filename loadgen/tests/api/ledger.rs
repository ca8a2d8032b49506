//! `loadgen ledger` (the binary) against a real run: the vote service and the worker, the local
//! Redis and a PostgreSQL database of the test's own; then the state broken on purpose.

use std::path::Path;

use loadgen::settings::Endpoint;
use serde_json::Value;
use test_support::{LOCAL_REDIS, QueueCleanup, unique_name};

use crate::{
    acks::TempFile,
    helpers::{Database, TestVote, load, redis_connection, spawn_worker},
};

/// `loadgen ledger --json` with `args` after the connection flags: its exit code and its JSON.
async fn ledger(acks: &Path, queue: &str, database: &Database, args: &[&str]) -> (i32, Value) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("ledger")
        .arg("--acks")
        .arg(acks)
        .args(["--redis-url", LOCAL_REDIS, "--queue", queue])
        .args(["--database-url", &database.url(), "--json"])
        .args(args)
        .output()
        .await
        .expect("the load generator runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().expect("exited"), json)
}

/// Posts `votes` votes by `voters` voters to `vote`, the outcome of each written to `acks`.
async fn post(vote: &TestVote, acks: &TempFile, votes: u64, voters: Option<u64>) {
    let mut settings = load(&vote.address, votes, 4, 0.5);
    settings.voters = voters;
    settings.endpoint = Endpoint::Api;
    settings.acks = Some(acks.0.clone());
    let report = loadgen::run(settings)
        .await
        .expect("the file can be written");
    assert!(report.succeeded(), "{report}");
}

fn counts(json: &Value, fields: &[&str]) -> Vec<u64> {
    fields
        .iter()
        .map(|field| {
            json[field]
                .as_u64()
                .unwrap_or_else(|| panic!("{field}: {json}"))
        })
        .collect()
}

const TERMS: [&str; 7] = [
    "acknowledged",
    "superseded",
    "stored",
    "waiting",
    "in_flight",
    "dead_lettered",
    "missing",
];

#[actix_rt::test]
async fn a_drained_run_balances_and_a_deleted_row_or_a_changed_vote_does_not() {
    let database = Database::create();
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let acks = TempFile::new("acks");
    spawn_worker(&database, &vote.queue.name).await;

    // 60 votes by 12 voters: 48 re-votes superseded, each voter's last one stored.
    post(&vote, &acks, 60, Some(12)).await;
    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &["--wait-secs", "60"]).await;

    assert_eq!(code, 0, "{json}");
    assert_eq!(counts(&json, &TERMS), [60, 48, 12, 0, 0, 0, 0], "{json}");
    assert_eq!(json["balanced"], true);
    assert_eq!(json["consistent"], true);
    assert_eq!(json["settled"], true);
    assert_eq!(
        counts(&json, &["rows", "mismatched", "overtaken"]),
        [12, 0, 0]
    );

    // One voter's row deleted: that voter's acknowledged vote is missing.
    let victim = json_voter(&database);
    database.execute(&format!("DELETE FROM votes WHERE id = '{victim}'"));
    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &[]).await;
    assert_eq!(code, 1, "{json}");
    assert_eq!(counts(&json, &TERMS), [60, 48, 11, 0, 0, 0, 1], "{json}");
    assert_eq!(json["balanced"], false);
    assert_eq!(json["problems"][0]["voter_id"], victim.as_str());
    assert_eq!(json["problems"][0]["kind"], "missing");

    // Another voter's vote changed behind the app's back: found, but not the one acknowledged.
    let changed = json_voter(&database);
    database.execute(&format!(
        "UPDATE votes SET vote = CASE vote WHEN 'a' THEN 'b' ELSE 'a' END WHERE id = '{changed}'"
    ));
    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &[]).await;
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["consistent"], false);
    assert_eq!(json["mismatched"], 1);
    let kinds: Vec<(&str, &str)> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["voter_id"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&(changed.as_str(), "mismatched")), "{json}");
}

/// A voter with a stored row.
fn json_voter(database: &Database) -> String {
    database.execute("SELECT id FROM votes ORDER BY id LIMIT 1")[0].get(0)
}

#[actix_rt::test]
async fn votes_waiting_in_the_queue_are_accounted_for_and_one_taken_off_it_is_missing() {
    // No worker: the votes wait.
    let database = Database::create();
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let acks = TempFile::new("acks");
    post(&vote, &acks, 10, None).await;

    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &[]).await;
    assert_eq!(code, 0, "balanced, though not settled: {json}");
    assert_eq!(counts(&json, &TERMS), [10, 0, 0, 10, 0, 0, 0], "{json}");
    assert_eq!(json["settled"], false);
    assert_eq!(json["redis"]["queue"], 10);
    // Asked to wait for the queue to drain, and it does not: exit 1.
    let (code, _) = ledger(
        &acks.0,
        &vote.queue.name,
        &database,
        &["--wait-secs", "0.3"],
    )
    .await;
    assert_eq!(code, 1);

    // One message moved to a processing list, as a worker takes it: in flight.
    let mut redis = redis_connection().unwrap();
    let processing = format!("{}:processing:test-worker", vote.queue.name);
    let _: Vec<u8> = redis::cmd("LMOVE")
        .arg(&vote.queue.name)
        .arg(&processing)
        .arg("LEFT")
        .arg("RIGHT")
        .query(&mut redis)
        .unwrap();
    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &[]).await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(counts(&json, &TERMS), [10, 0, 0, 9, 1, 0, 0], "{json}");

    // One message popped off the queue and dropped: missing.
    let _: Vec<u8> = redis::cmd("LPOP")
        .arg(&vote.queue.name)
        .query(&mut redis)
        .unwrap();
    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &[]).await;
    assert_eq!(code, 1, "{json}");
    assert_eq!(counts(&json, &TERMS), [10, 0, 0, 8, 1, 0, 1], "{json}");
    assert_eq!(json["problems"].as_array().unwrap().len(), 1, "{json}");

    // The worker drains the rest; the dropped vote stays missing.
    spawn_worker(&database, &vote.queue.name).await;
    let (code, json) = ledger(&acks.0, &vote.queue.name, &database, &["--wait-secs", "60"]).await;
    assert_eq!(code, 1, "{json}");
    assert_eq!(counts(&json, &TERMS), [10, 0, 9, 0, 0, 0, 1], "{json}");
    assert_eq!(json["settled"], true);
}

#[actix_rt::test]
async fn the_processing_lists_of_another_queue_whose_name_the_glob_would_match_are_not_read() {
    // Queues `<x>*` and `<x>y`: unescaped, `<x>*:processing:*` would match `<x>y`'s lists too.
    let base = unique_name("test:ledger");
    let (queue, other) = (format!("{base}*"), format!("{base}y"));
    let _cleanup = [
        QueueCleanup::new(LOCAL_REDIS, &queue),
        QueueCleanup::new(LOCAL_REDIS, &other),
    ];
    let database = Database::create();
    let acks = TempFile::new("acks");
    std::fs::write(
        &acks.0,
        r#"{"voter_id":"v1","vote":"a","outcome":"ack","status":202,"error":null,"sent_ms":1,"answered_ms":2}
"#,
    )
    .unwrap();
    let mut redis = redis_connection().unwrap();
    let message = r#"{"voter_id":"v1","vote":"a","ts":1}"#;
    let _: () = redis::cmd("RPUSH")
        .arg(format!("{other}:processing:w"))
        .arg(message)
        .query(&mut redis)
        .unwrap();

    let (code, json) = ledger(&acks.0, &queue, &database, &[]).await;
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["missing"], 1, "{json}");
    assert_eq!(json["redis"]["processing_lists"], 0, "{json}");

    let _: () = redis::cmd("RPUSH")
        .arg(format!("{queue}:processing:w"))
        .arg(message)
        .query(&mut redis)
        .unwrap();
    let (code, json) = ledger(&acks.0, &queue, &database, &[]).await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["in_flight"], 1, "{json}");
}
