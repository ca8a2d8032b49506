//! Waiting for the real result service to show the votes. (That it does show them, through
//! the worker, is the end-to-end test's part: make_run.rs.)

use std::time::Duration;

use ballot::Tally;
use loadgen::report::ResultWait;

use test_support::{LOCAL_REDIS, free_port};

use crate::helpers::{Database, TestVote, load, spawn_result};

#[actix_rt::test]
async fn a_result_that_never_shows_the_votes_times_out_with_what_it_last_showed() {
    // No worker drains the queue, so the result service keeps showing no votes.
    let database = Database::create();
    let result = spawn_result(&database).await;
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let mut settings = load(&vote.address, 3, 3, 0.5);
    settings.result_url = Some(result);
    settings.wait_timeout = Duration::from_secs(1);

    let report = loadgen::run(settings)
        .await
        .expect("the result service answers");

    assert_eq!(report.accepted, 3, "{report}");
    assert_eq!(
        report.result,
        Some(ResultWait::TimedOut {
            expected: Tally { a: 1, b: 2 },
            last_seen: Some(Tally { a: 0, b: 0 }),
        }),
        "{report}"
    );
    assert!(!report.succeeded(), "{report}");
    assert!(
        report.to_string().contains("it last showed a 0 b 0"),
        "{report}"
    );
}

#[actix_rt::test]
async fn no_vote_is_sent_when_the_result_service_cannot_be_read_first() {
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let mut settings = load(&vote.address, 3, 3, 0.5);
    settings.result_url = Some(format!("http://127.0.0.1:{}", free_port()));

    let err = loadgen::run(settings)
        .await
        .expect_err("the baseline cannot be read");

    assert!(format!("{err:#}").contains("cannot reach"), "{err:#}");
    assert!(vote.queue.queued().is_empty(), "nothing was sent");
}
