//! The load generator: posts votes to the vote service, at a chosen concurrency, rate and
//! split between the options, as new voters or as re-votes by a fixed population; measures
//! throughput and latency; can wait until the result service shows the votes; and can write
//! every vote's outcome to a file that its `ledger` subcommand holds the system's state to.
//!
//! - [`settings`]: flags and their environment variables.
//! - [`plan`]: which vote each request casts and the totals to expect.
//! - [`client`]: HTTP to the vote and result services.
//! - [`acks`]: the acknowledgements file, one line per vote posted.
//! - [`report`]: what a run measured.
//! - [`ledger`]: where every acknowledged vote is now, from Redis and PostgreSQL.
//!
//! It runs on one thread (actix's runtime, which its HTTP client needs): one thread posts
//! tens of thousands of votes a second, more than the services on the same machine take.

pub mod acks;
pub mod client;
pub mod ledger;
pub mod plan;
pub mod report;
pub mod settings;

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use acks::{AckLog, Attempt};
use ballot::{Tally, VoterId, now_millis};
use client::{Answer, ResultClient, VoteClient};
use plan::Plan;
use report::{Latencies, Report, ResultWait};
use settings::Settings;

/// How often the result service is read while waiting: fine enough to time a propagation of
/// a fraction of a second, and a negligible load.
const RESULT_POLL: Duration = Duration::from_millis(50);

/// The least time between the answer to one of a voter's votes and the voter's next vote. The
/// vote service stamps each vote with its clock's millisecond and the worker keeps a voter's
/// vote with the greatest stamp, the later of equal ones by queue order, which two workers can
/// upset: votes a millisecond or more apart are never equal. A few milliseconds leave room for
/// clocks that tick coarsely.
pub const MIN_REVOTE_GAP: Duration = Duration::from_millis(5);

/// Posts the votes `settings` ask for and, with a result URL, waits for them to show.
/// Fails when the result service cannot be read before any vote is sent, or when the
/// acknowledgements file cannot be written.
pub async fn run(settings: Settings) -> anyhow::Result<Report> {
    let plan = Plan::new(
        settings.votes,
        settings.split,
        settings.voters,
        settings.concurrency,
    );
    let acks = settings.acks.as_deref().map(AckLog::create).transpose()?;
    // The poll may hold votes already: what this run adds comes on top of them.
    let watch = match &settings.result_url {
        Some(url) => {
            let results = ResultClient::new(url);
            let baseline = results.tally().await?;
            Some((results, baseline))
        }
        None => None,
    };
    // The load generator picks every voter's id, as a browser keeps the one its first visit
    // was given, so that each line of the acknowledgements file names its voter.
    let voter_ids: Option<Vec<String>> = settings.voters.map(|voters| {
        (0..voters)
            .map(|_| VoterId::generate().into_string())
            .collect()
    });
    let votes = VoteClient::new(&settings.vote_url, settings.endpoint, plan.lanes() as usize);

    let started = Instant::now();
    let run = Run {
        plan: &plan,
        votes: &votes,
        voter_ids: voter_ids.as_deref(),
        acks: acks.as_ref(),
        pace: Pace {
            started,
            rate: settings.rate,
            deadline: settings.duration.map(|duration| started + duration),
        },
        acks_error: RefCell::new(None),
    };
    let lanes = (0..plan.lanes()).map(|lane| run.send_lane(lane));
    let total = futures_util::future::join_all(lanes)
        .await
        .into_iter()
        .fold(LaneOutcome::default(), LaneOutcome::merge);
    let elapsed = started.elapsed();
    if let (Some(err), Some(acks)) = (run.acks_error.into_inner(), &acks) {
        anyhow::bail!(
            "stopped: cannot write the acknowledgements file {:?}: {err}",
            acks.path()
        );
    }

    let result = match watch {
        // Whether those votes were recorded decides what the result must show.
        Some(_) if total.unknown > 0 => Some(ResultWait::Skipped),
        Some((results, baseline)) => Some(
            wait_for(
                &results,
                baseline.plus(total.counted),
                settings.wait_timeout,
            )
            .await,
        ),
        None => None,
    };
    Ok(Report {
        settings,
        cast: total.cast,
        accepted: total.accepted,
        refused: total.refused,
        unknown: total.unknown,
        lanes: plan.lanes(),
        failures: total.failures,
        elapsed,
        latencies: Latencies::new(total.latencies),
        result,
    })
}

/// When each vote may go: `rate` votes per second from `started` (0: at once), none after
/// `deadline`.
struct Pace {
    started: Instant,
    rate: f64,
    deadline: Option<Instant>,
}

impl Pace {
    /// Waits for vote `i`'s turn; false when the run's time is up before it.
    async fn turn(&self, i: u64) -> bool {
        let due =
            (self.rate > 0.0).then(|| self.started + Duration::from_secs_f64(i as f64 / self.rate));
        if let (Some(due), Some(deadline)) = (due, self.deadline)
            && due >= deadline
        {
            return false;
        }
        if let Some(due) = due {
            actix_rt::time::sleep_until(due.into()).await;
        }
        self.deadline
            .is_none_or(|deadline| Instant::now() < deadline)
    }
}

/// What every lane of a run shares.
struct Run<'a> {
    plan: &'a Plan,
    votes: &'a VoteClient,
    /// The fixed population's ids; none when every vote comes from a new voter.
    voter_ids: Option<&'a [String]>,
    acks: Option<&'a AckLog>,
    pace: Pace,
    /// The first failure to write the acknowledgements file, which stops every lane: a run
    /// whose file misses votes cannot be checked.
    acks_error: RefCell<Option<std::io::Error>>,
}

/// What one lane saw.
#[derive(Default)]
struct LaneOutcome {
    /// Every vote sent, per option.
    cast: Tally,
    accepted: u64,
    refused: u64,
    unknown: u64,
    /// Each voter's last acknowledged vote: what the run adds to the result when no outcome
    /// is unknown.
    counted: Tally,
    failures: BTreeMap<client::Failure, u64>,
    latencies: Vec<u64>,
}

impl LaneOutcome {
    fn merge(mut self, other: LaneOutcome) -> LaneOutcome {
        self.cast = self.cast.plus(other.cast);
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.unknown += other.unknown;
        self.counted = self.counted.plus(other.counted);
        self.latencies.extend(other.latencies);
        for (failure, count) in other.failures {
            *self.failures.entry(failure).or_default() += count;
        }
        self
    }
}

impl Run<'_> {
    /// Sends lane `lane`'s votes one after the other. A voter's votes all travel in one lane,
    /// so a voter never has two in flight, and the lane spaces them by [`MIN_REVOTE_GAP`].
    async fn send_lane(&self, lane: u64) -> LaneOutcome {
        let mut outcome = LaneOutcome::default();
        // Per voter of the fixed population: when its last vote was answered, and its last
        // acknowledged vote.
        let mut answered_at: HashMap<u64, Instant> = HashMap::new();
        let mut last_ack = HashMap::new();
        for i in self.plan.lane(lane) {
            if self.acks_error.borrow().is_some() || !self.pace.turn(i).await {
                break;
            }
            let voter = self.plan.voter(i);
            let voter_id = match self.voter_ids {
                Some(ids) => {
                    if let Some(at) = answered_at.get(&voter) {
                        actix_rt::time::sleep_until((*at + MIN_REVOTE_GAP).into()).await;
                    }
                    ids[voter as usize].clone()
                }
                None => VoterId::generate().into_string(),
            };
            let option = self.plan.option(i);
            let (sent, sent_ms) = (Instant::now(), now_millis());
            let answer = self.votes.vote(option, Some(&voter_id)).await;
            outcome.latencies.push(sent.elapsed().as_micros() as u64);
            if self.voter_ids.is_some() {
                answered_at.insert(voter, Instant::now());
            }
            if let Some(acks) = self.acks {
                let attempt = Attempt::new(&voter_id, option, &answer, sent_ms, now_millis());
                if let Err(err) = acks.record(&attempt) {
                    self.acks_error.borrow_mut().get_or_insert(err);
                }
            }
            outcome.cast.add(option);
            match answer {
                Answer::Accepted { .. } => {
                    outcome.accepted += 1;
                    if let Some(replaced) = last_ack.insert(voter, option) {
                        outcome.counted.remove(replaced);
                    }
                    outcome.counted.add(option);
                }
                Answer::Refused { failure, .. } => {
                    outcome.refused += 1;
                    *outcome.failures.entry(failure).or_default() += 1;
                }
                Answer::Unknown { failure, .. } => {
                    outcome.unknown += 1;
                    *outcome.failures.entry(failure).or_default() += 1;
                }
            }
            if self.voter_ids.is_none() {
                // A new voter votes once: nothing to remember.
                last_ack.clear();
            }
        }
        outcome
    }
}

/// Reads the result service until it shows `expected` or `timeout` passes.
async fn wait_for(results: &ResultClient, expected: Tally, timeout: Duration) -> ResultWait {
    let started = Instant::now();
    let mut last_seen = None;
    loop {
        // A failed read (the result service restarting) is retried until the deadline.
        if let Ok(tally) = results.tally().await {
            if tally == expected {
                return ResultWait::Shown {
                    expected,
                    after: started.elapsed(),
                };
            }
            last_seen = Some(tally);
        }
        if started.elapsed() >= timeout {
            return ResultWait::TimedOut {
                expected,
                last_seen,
            };
        }
        actix_rt::time::sleep(RESULT_POLL).await;
    }
}
