//! The acknowledgements file, steady load and runs that go on under failures, against the real
//! vote service and Redis.

use std::{
    collections::HashMap,
    io::Read,
    net::TcpListener,
    path::PathBuf,
    time::{Duration, Instant},
};

use ballot::VoteOption;
use loadgen::{
    MIN_REVOTE_GAP,
    acks::{self, Attempt, Outcome},
    settings::Endpoint,
};
use test_support::{LOCAL_REDIS, unique_name};

use crate::helpers::{TestVote, load};

/// A file in the temporary folder, removed when the test ends.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(prefix: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(unique_name(prefix)))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[actix_rt::test]
async fn every_vote_has_a_line_naming_its_voter_vote_and_outcome_in_the_voters_order() {
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let file = TempFile::new("acks");
    let mut settings = load(&vote.address, 23, 3, 0.5);
    settings.voters = Some(5);
    settings.endpoint = Endpoint::Api;
    settings.acks = Some(file.0.clone());

    let report = loadgen::run(settings)
        .await
        .expect("the file can be written");

    assert!(report.succeeded(), "{report}");
    assert!(
        report
            .to_string()
            .contains("sent 23: acknowledged 23, refused 0, unknown 0, failed 0"),
        "{report}"
    );
    let attempts = acks::read(&file.0).expect("the file reads back");
    assert_eq!(attempts.len(), 23);
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == Outcome::Ack && a.status == Some(202) && a.error.is_none()),
        "{attempts:?}"
    );
    // Each voter's lines are its messages in the queue, in the same order, each stamped by
    // the service between the request and its answer.
    let queued = vote.queue.queued();
    let by_voter = |voter: &str| -> Vec<VoteOption> {
        attempts
            .iter()
            .filter(|a| a.voter_id == voter)
            .map(|a| a.vote)
            .collect()
    };
    let mut voters: HashMap<&str, Vec<(VoteOption, i64)>> = HashMap::new();
    for ballot in &queued {
        voters
            .entry(&ballot.voter_id)
            .or_default()
            .push((ballot.vote, ballot.ts));
    }
    assert_eq!(voters.len(), 5);
    for (voter, messages) in &voters {
        let options: Vec<VoteOption> = messages.iter().map(|(option, _)| *option).collect();
        assert_eq!(options, by_voter(voter), "voter {voter}");
        // Re-votes stamped at least the gap apart, less the millisecond a stamp rounds down:
        // never two in one millisecond.
        assert_eq!(MIN_REVOTE_GAP, Duration::from_millis(5));
        for pair in messages.windows(2) {
            assert!(pair[1].1 - pair[0].1 >= 4, "voter {voter}: {messages:?}");
        }
    }
    for ballot in &queued {
        assert!(
            attempts
                .iter()
                .any(|a: &Attempt| a.voter_id == ballot.voter_id
                    && a.sent_ms <= ballot.ts
                    && ballot.ts <= a.answered_ms),
            "{ballot:?} was stamped outside its attempt: {attempts:?}"
        );
    }
}

#[actix_rt::test]
async fn refused_votes_are_written_and_allowed_failures_make_the_run_succeed() {
    // A Redis address where nothing listens: the vote service answers 503.
    let vote = TestVote::spawn("redis://127.0.0.1:1/0").await;
    let file = TempFile::new("acks");
    let mut settings = load(&vote.address, 4, 2, 0.5);
    settings.acks = Some(file.0.clone());
    settings.allow_failures = true;

    let report = loadgen::run(settings).await.expect("no result to read");

    assert_eq!((report.accepted, report.refused, report.unknown), (0, 4, 0));
    assert!(report.succeeded(), "failures are allowed: {report}");
    let attempts = acks::read(&file.0).unwrap();
    assert_eq!(attempts.len(), 4);
    for attempt in &attempts {
        assert_eq!(attempt.outcome, Outcome::Refused, "{attempt:?}");
        assert_eq!(attempt.status, Some(503));
        assert_eq!(
            attempt.error.as_deref(),
            Some("HTTP 503 Service Unavailable")
        );
    }
}

#[actix_rt::test]
async fn a_connection_that_breaks_after_the_request_is_sent_is_an_unknown_outcome() {
    // A "vote service" that reads the request and hangs up without answering.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut connection in listener.incoming().flatten() {
            let mut request = [0u8; 1024];
            let _ = connection.read(&mut request);
        }
    });
    let file = TempFile::new("acks");
    let mut settings = load(&address, 2, 1, 0.5);
    settings.acks = Some(file.0.clone());

    let report = loadgen::run(settings).await.expect("no result to read");

    assert_eq!((report.accepted, report.refused, report.unknown), (0, 0, 2));
    assert!(!report.succeeded(), "{report}");
    let attempts = acks::read(&file.0).unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == Outcome::Unknown && a.status.is_none() && a.error.is_some()),
        "{attempts:?}"
    );
}

#[actix_rt::test]
async fn a_steady_rate_for_a_duration_sends_what_the_rate_allows_in_that_time() {
    let vote = TestVote::spawn(LOCAL_REDIS).await;
    let mut settings = load(&vote.address, u64::MAX, 4, 0.5);
    settings.duration = Some(Duration::from_secs(1));
    settings.rate = 40.0;
    settings.voters = Some(10);

    let started = Instant::now();
    let report = loadgen::run(settings).await.expect("no result to read");

    // Vote i is due i/40 s after the start; those due within the second are 0 to 39.
    let sent = report.cast.total();
    assert!((1..=40).contains(&sent), "{report}");
    assert_eq!(report.accepted, sent, "{report}");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "paced over the second: {report}"
    );
    assert_eq!(vote.queue.queued().len() as u64, sent);
}

#[actix_rt::test]
async fn no_service_listening_is_a_refusal_since_nothing_was_sent() {
    let file = TempFile::new("acks");
    let mut settings = load(
        &format!("http://127.0.0.1:{}", test_support::free_port()),
        2,
        1,
        0.5,
    );
    settings.acks = Some(file.0.clone());

    let report = loadgen::run(settings).await.expect("no result to read");

    assert_eq!((report.accepted, report.refused, report.unknown), (0, 2, 0));
    let attempts = acks::read(&file.0).unwrap();
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == Outcome::Refused && a.status.is_none()),
        "{attempts:?}"
    );
}
