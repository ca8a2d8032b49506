//! `loadgen ledger`: where every vote that an acknowledgements file ([`crate::acks`]) says was
//! acknowledged is now, read from the system's own state: the queue, the workers' processing
//! lists and the dead list in Redis, and the `votes` table in PostgreSQL, directly (not
//! through a replica behind a Service). docs/ledger.md explains every term.
//!
//! Each voter's acknowledged votes but the last are superseded: a later acknowledged vote of
//! the same voter replaces them, wherever they are. The last one is looked for as the voter's
//! newest vote anywhere (the greatest `ts`, which is what the worker keeps): stored in `votes`,
//! waiting in the queue, in flight in a processing list, or dead-lettered; or nowhere, and
//! then it is missing. So
//!
//! ```text
//! acknowledged = superseded + stored + waiting + in flight + dead-lettered + missing
//! ```
//!
//! and the ledger balances when nothing is missing. It is consistent when every voter's newest
//! vote is the voter's last acknowledged one, or one of a later attempt whose outcome was
//! unknown (or a 503, which an append Redis applied after the deadline gives): such an
//! attempt may have been recorded after all (overtaken).

use std::{
    collections::{HashMap, HashSet},
    fmt,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use redis::Script;
use serde::Serialize;
use service_kit::postgres::PostgresConfig;

use crate::{
    acks::{self, Attempt, Outcome},
    settings::{Given, Setting, UsageError},
};

/// `loadgen ledger --help`.
pub const USAGE: &str = "\
usage: loadgen ledger --acks FILE [--flag value]...   (each flag also reads the variable shown)

  --acks FILE           LOADGEN_ACKS          the acknowledgements a load generator run wrote
                                              (loadgen --acks FILE)
  --redis-url URL       REDIS_URL             the app's Redis (default redis://redis:6379/0)
  --queue NAME          VOTE_QUEUE            the app's queue (default votes)
  --database-url URL    DATABASE_URL          the app's PostgreSQL (default
                                              postgres://postgres:postgres@db:5432/postgres;
                                              DATABASE_PASSWORD_FILE as for the worker)
  --wait-secs W         LOADGEN_LEDGER_WAIT_SECS  first wait up to W seconds until none of the
                                              run's votes waits in Redis (default: look once)
  --json                LOADGEN_LEDGER_JSON=true  print the ledger as one JSON object

Prints where every acknowledged vote is: acknowledged = superseded + stored + waiting +
in flight + dead-lettered + missing. Exits 0 when nothing is missing and every voter's newest
vote is the last one acknowledged (or a later one whose outcome was unknown), and, with
--wait-secs, nothing of the run still waits; 1 otherwise, with what is wrong; 2 on a usage
error; 3 when the file, Redis or PostgreSQL cannot be read.";

const ACKS: Setting = ("--acks", "LOADGEN_ACKS");
const REDIS_URL: Setting = ("--redis-url", "REDIS_URL");
const QUEUE: Setting = ("--queue", "VOTE_QUEUE");
const DATABASE_URL: Setting = ("--database-url", "DATABASE_URL");
const WAIT_SECS: Setting = ("--wait-secs", "LOADGEN_LEDGER_WAIT_SECS");
const JSON: Setting = ("--json", "LOADGEN_LEDGER_JSON");
const ALL: [Setting; 6] = [ACKS, REDIS_URL, QUEUE, DATABASE_URL, WAIT_SECS, JSON];

/// How often the state is read again while waiting for the run's votes to drain.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// Redis answers a read of the lists within this unless it is down or hung.
const REDIS_TIMEOUT: Duration = Duration::from_secs(10);

/// Problems printed as text; the JSON has them all.
const PROBLEMS_SHOWN: usize = 20;

/// What `loadgen ledger` is asked.
pub struct LedgerSettings {
    pub acks: PathBuf,
    pub redis_url: String,
    pub queue: String,
    pub database: PostgresConfig,
    pub wait: Option<Duration>,
    pub json: bool,
}

impl LedgerSettings {
    /// Reads `args` (after `ledger`) over the environment; the defaults are the app's own
    /// (SPEC section 1), so that in the app's network nothing need be given but the file.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<LedgerSettings, UsageError> {
        let mut given = Given::from_args(args, &ALL, &[JSON])?;
        let acks = given
            .text(ACKS)
            .map(PathBuf::from)
            .ok_or_else(|| UsageError::Invalid("--acks FILE is needed".to_owned()))?;
        let database_url = given
            .text(DATABASE_URL)
            .unwrap_or_else(|| "postgres://postgres:postgres@db:5432/postgres".to_owned());
        let password_file = service_kit::config::var_or("DATABASE_PASSWORD_FILE", "");
        let password_file = (!password_file.is_empty()).then(|| PathBuf::from(password_file));
        let database = PostgresConfig::parse(&database_url, password_file.as_deref())
            .map_err(|err| UsageError::Invalid(err.to_string()))?;
        let wait = given.seconds(WAIT_SECS)?;
        Ok(LedgerSettings {
            acks,
            redis_url: given
                .text(REDIS_URL)
                .unwrap_or_else(|| "redis://redis:6379/0".to_owned()),
            queue: given.text(QUEUE).unwrap_or_else(|| "votes".to_owned()),
            database,
            wait,
            json: given.parsed(JSON)?.unwrap_or(false),
        })
    }
}

/// Where a vote is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The voter's row in `votes`.
    Stored,
    /// In the queue.
    Waiting,
    /// In a worker's processing list: taken, not yet acknowledged.
    InFlight,
    /// In `<queue>:dead`.
    DeadLettered,
}

impl Place {
    /// Of two votes of one voter with the same `ts`, the one that ends up stored ranks higher:
    /// the worker replaces a row by a message whose `ts` is greater or equal, and never stores
    /// a dead letter. (One message both stored and in a processing list is a batch committed
    /// and not yet acknowledged: in flight until it is.)
    fn rank(self) -> u8 {
        match self {
            Place::DeadLettered => 0,
            Place::Stored => 1,
            Place::Waiting => 2,
            Place::InFlight => 3,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Place::Stored => "stored",
            Place::Waiting => "waiting",
            Place::InFlight => "in flight",
            Place::DeadLettered => "dead-lettered",
        }
    }
}

/// One vote of a voter found in the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// As stored or queued: `a` or `b`, or whatever another writer put there.
    pub vote: String,
    pub ts: i64,
    pub place: Place,
}

/// A row of `votes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub voter_id: String,
    pub vote: String,
    pub ts: i64,
}

/// The system's state, as read at one moment: Redis at once (one script), then PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub queue: Vec<Vec<u8>>,
    /// Each processing list, by key.
    pub processing: Vec<(String, Vec<Vec<u8>>)>,
    pub dead: Vec<Vec<u8>>,
    /// The rows of the voters asked about.
    pub rows: Vec<Row>,
}

/// What Redis holds, all of it and of the run's voters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedisCounts {
    /// `LLEN <queue>`.
    pub queue: u64,
    /// Messages in every `<queue>:processing:*` list.
    pub processing: u64,
    pub processing_lists: u64,
    /// `LLEN <queue>:dead`.
    pub dead: u64,
    /// Of those, the messages of the file's voters (any of their votes, not only the last).
    pub queue_of_run: u64,
    pub processing_of_run: u64,
    pub dead_of_run: u64,
}

/// A voter whose last acknowledged vote is not where it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub voter_id: String,
    /// `missing`: none of the voter's votes is anywhere; `mismatched`: the voter's newest vote
    /// is another one than the last acknowledged, and no later attempt explains it.
    pub kind: &'static str,
    pub last_acknowledged: String,
    /// The voter's newest vote, where there is one.
    pub found: Option<Found>,
}

/// The ledger of one acknowledgements file against one state. docs/ledger.md describes every
/// field; the JSON output is this, field for field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// Nothing acknowledged is missing.
    pub balanced: bool,
    /// Every voter's newest vote is the last acknowledged one or a later uncertain one.
    pub consistent: bool,
    /// None of the file's voters has a message waiting or in flight.
    pub settled: bool,
    /// Lines in the file, and distinct voters in them.
    pub attempts: u64,
    pub voters: u64,
    pub acknowledged: u64,
    pub refused: u64,
    pub unknown: u64,
    /// Acknowledged votes replaced by a later acknowledged vote of the same voter.
    pub superseded: u64,
    /// Voters' last acknowledged votes, by where the voter's newest vote is.
    pub stored: u64,
    pub waiting: u64,
    pub in_flight: u64,
    pub dead_lettered: u64,
    pub missing: u64,
    /// Of those found: the newest vote is a later attempt's whose outcome was unknown or a 503
    /// (recorded after all), not the last acknowledged one.
    pub overtaken: u64,
    /// Of those found: the newest vote is neither.
    pub mismatched: u64,
    /// Voters with no acknowledged vote whose unknown or refused attempt is in the system.
    pub unacknowledged_found: u64,
    /// Rows in `votes` of the file's voters.
    pub rows: u64,
    pub redis: RedisCounts,
    pub problems: Vec<Problem>,
}

impl Ledger {
    /// Accounts for the `attempts` of a file in `state`.
    pub fn account(attempts: &[Attempt], state: &State) -> Ledger {
        // Each voter's attempts in the file's order, which is the order of the voter's votes.
        let mut order: Vec<&str> = Vec::new();
        let mut by_voter: HashMap<&str, Vec<&Attempt>> = HashMap::new();
        for attempt in attempts {
            by_voter
                .entry(&attempt.voter_id)
                .or_insert_with(|| {
                    order.push(&attempt.voter_id);
                    Vec::new()
                })
                .push(attempt);
        }
        let (found, redis) = find_votes(&by_voter, state);

        let mut ledger = Ledger {
            attempts: attempts.len() as u64,
            voters: order.len() as u64,
            rows: state
                .rows
                .iter()
                .filter(|row| by_voter.contains_key(row.voter_id.as_str()))
                .count() as u64,
            redis,
            settled: found
                .values()
                .flatten()
                .all(|vote| matches!(vote.place, Place::Stored | Place::DeadLettered)),
            ..Ledger::default()
        };
        for voter in order {
            let attempts = &by_voter[voter];
            for attempt in attempts {
                match attempt.outcome {
                    Outcome::Ack => ledger.acknowledged += 1,
                    Outcome::Refused => ledger.refused += 1,
                    Outcome::Unknown => ledger.unknown += 1,
                }
            }
            let newest = found.get(voter).and_then(|votes| {
                votes
                    .iter()
                    .max_by_key(|vote| (vote.ts, vote.place.rank()))
                    .cloned()
            });
            let Some(last) = attempts.iter().rposition(|a| a.outcome == Outcome::Ack) else {
                ledger.unacknowledged_found += u64::from(newest.is_some());
                continue;
            };
            let acknowledged = attempts.iter().filter(|a| a.outcome == Outcome::Ack);
            ledger.superseded += acknowledged.count() as u64 - 1;
            let last_vote = attempts[last].vote.as_str();
            let problem = |kind, found| Problem {
                voter_id: voter.to_owned(),
                kind,
                last_acknowledged: last_vote.to_owned(),
                found,
            };
            let Some(newest) = newest else {
                ledger.missing += 1;
                ledger.problems.push(problem("missing", None));
                continue;
            };
            *match newest.place {
                Place::Stored => &mut ledger.stored,
                Place::Waiting => &mut ledger.waiting,
                Place::InFlight => &mut ledger.in_flight,
                Place::DeadLettered => &mut ledger.dead_lettered,
            } += 1;
            if newest.vote == last_vote {
                continue;
            }
            let explained = attempts[last + 1..]
                .iter()
                .any(|a| a.vote.as_str() == newest.vote && may_be_recorded(a));
            if explained {
                ledger.overtaken += 1;
            } else {
                ledger.mismatched += 1;
                ledger.problems.push(problem("mismatched", Some(newest)));
            }
        }
        ledger.balanced = ledger.missing == 0;
        ledger.consistent = ledger.mismatched == 0;
        ledger
    }

    /// What the exit status says: balanced and consistent and, when the run was waited for,
    /// settled.
    pub fn holds(&self, waited: bool) -> bool {
        self.balanced && self.consistent && (self.settled || !waited)
    }
}

/// An attempt not acknowledged that Redis may have applied all the same: no answer, or a 503
/// (the vote service's deadline passed, but an append already sent may still be executed).
fn may_be_recorded(attempt: &Attempt) -> bool {
    match attempt.outcome {
        Outcome::Ack => true,
        Outcome::Unknown => true,
        Outcome::Refused => attempt.status == Some(503),
    }
}

/// Every vote of the voters of `by_voter` in `state`, and what Redis holds.
fn find_votes<'a>(
    by_voter: &HashMap<&'a str, Vec<&Attempt>>,
    state: &State,
) -> (HashMap<&'a str, Vec<Found>>, RedisCounts) {
    let mut found: HashMap<&str, Vec<Found>> = HashMap::new();
    let mut note = |voter_id: &str, vote: String, ts: i64, place: Place| -> bool {
        let Some((&voter, _)) = by_voter.get_key_value(voter_id) else {
            return false;
        };
        found
            .entry(voter)
            .or_default()
            .push(Found { vote, ts, place });
        true
    };
    let mut redis = RedisCounts {
        queue: state.queue.len() as u64,
        processing_lists: state.processing.len() as u64,
        dead: state.dead.len() as u64,
        ..RedisCounts::default()
    };
    let mut note_messages = |messages: &[Vec<u8>], place: Place| -> u64 {
        let mut of_run = 0;
        for message in messages {
            if let Some((voter_id, vote, ts)) = read_message(message) {
                of_run += u64::from(note(&voter_id, vote, ts, place));
            }
        }
        of_run
    };
    redis.queue_of_run = note_messages(&state.queue, Place::Waiting);
    redis.dead_of_run = note_messages(&state.dead, Place::DeadLettered);
    for (_, messages) in &state.processing {
        redis.processing += messages.len() as u64;
        redis.processing_of_run += note_messages(messages, Place::InFlight);
    }
    for row in &state.rows {
        note(&row.voter_id, row.vote.clone(), row.ts, Place::Stored);
    }
    (found, redis)
}

/// A queue message's voter, vote and `ts`, read leniently: a dead letter is malformed, yet may
/// name a voter. A missing `ts` is 0, as for the worker.
fn read_message(message: &[u8]) -> Option<(String, String, i64)> {
    let value: serde_json::Value = serde_json::from_slice(message).ok()?;
    let voter_id = value.get("voter_id")?.as_str()?.to_owned();
    let vote = match value.get("vote") {
        Some(serde_json::Value::String(vote)) => vote.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let ts = value
        .get("ts")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    Some((voter_id, vote, ts))
}

impl fmt::Display for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} attempts by {} voters: acknowledged {}, refused {}, unknown {}",
            self.attempts, self.voters, self.acknowledged, self.refused, self.unknown
        )?;
        writeln!(
            f,
            "acknowledged {} = superseded {} + stored {} + waiting {} + in flight {} \
             + dead-lettered {} + missing {}",
            self.acknowledged,
            self.superseded,
            self.stored,
            self.waiting,
            self.in_flight,
            self.dead_lettered,
            self.missing
        )?;
        writeln!(
            f,
            "of the voters' last acknowledged votes found, {} overtaken by a later attempt \
             whose outcome was unknown, {} mismatched; {} voters without an acknowledged vote \
             have one in the system",
            self.overtaken, self.mismatched, self.unacknowledged_found
        )?;
        let redis = &self.redis;
        writeln!(
            f,
            "Redis: {} waiting ({} of these voters), {} in flight in {} processing lists ({}), \
             {} dead letters ({}); PostgreSQL: {} rows of these voters",
            redis.queue,
            redis.queue_of_run,
            redis.processing,
            redis.processing_lists,
            redis.processing_of_run,
            redis.dead,
            redis.dead_of_run,
            self.rows
        )?;
        for problem in self.problems.iter().take(PROBLEMS_SHOWN) {
            match &problem.found {
                None => writeln!(
                    f,
                    "missing: voter {} acknowledged {}; none of the voter's votes is stored or in Redis",
                    problem.voter_id, problem.last_acknowledged
                )?,
                Some(found) => writeln!(
                    f,
                    "mismatched: voter {} acknowledged {} last, but the newest vote is {} ({}, ts {})",
                    problem.voter_id,
                    problem.last_acknowledged,
                    found.vote,
                    found.place.as_str(),
                    found.ts
                )?,
            }
        }
        if self.problems.len() > PROBLEMS_SHOWN {
            writeln!(
                f,
                "... and {} more (--json lists them all)",
                self.problems.len() - PROBLEMS_SHOWN
            )?;
        }
        writeln!(
            f,
            "{}; {}; {}",
            if self.balanced {
                "balanced: every acknowledged vote is accounted for"
            } else {
                "NOT balanced: acknowledged votes are missing"
            },
            if self.consistent {
                "consistent: every voter's newest vote is the last acknowledged (or a later uncertain one)"
            } else {
                "NOT consistent: some voters' newest vote is not their last acknowledged"
            },
            if self.settled {
                "settled: nothing of these voters waits in Redis"
            } else {
                "not settled: some of these votes still wait in Redis"
            }
        )
    }
}

/// Reads the file and the state (after waiting, if asked, for the run's votes to drain) and
/// accounts for it.
pub async fn run(settings: &LedgerSettings) -> anyhow::Result<Ledger> {
    let attempts = acks::read(&settings.acks)?;
    let voter_ids: Vec<String> = attempts
        .iter()
        .map(|attempt| attempt.voter_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut reader = StateReader::connect(settings).await?;
    let deadline = settings.wait.map(|wait| Instant::now() + wait);
    loop {
        let state = reader.read(&voter_ids).await?;
        let ledger = Ledger::account(&attempts, &state);
        match deadline {
            Some(deadline) if !ledger.settled && Instant::now() < deadline => {
                actix_rt::time::sleep(WAIT_POLL).await;
            }
            _ => return Ok(ledger),
        }
    }
}

/// Reads every list of the queue at one instant, as a script does (nothing moves between
/// lists while it runs): the queue, the dead list (both declared keys), and every processing
/// list, found with SCAN inside the script. A processing list's name is made at run time by
/// its worker, so it cannot be declared beforehand; on a standalone Redis (SPEC section 1) a
/// script may read it all the same. The queue name is matched literally: its glob characters
/// are escaped. KEYS: the queue, the dead list; ARGV: the processing lists' prefix.
const SNAPSHOT_SCRIPT: &str = r"
local queue = redis.call('LRANGE', KEYS[1], 0, -1)
local dead = redis.call('LRANGE', KEYS[2], 0, -1)
local pattern = string.gsub(ARGV[1], '([%*%?%[%]\\])', '\\%1') .. '*'
local lists = {}
local cursor = '0'
repeat
  local answer = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'list')
  cursor = answer[1]
  for _, key in ipairs(answer[2]) do
    table.insert(lists, {key, redis.call('LRANGE', key, 0, -1)})
  end
until cursor == '0'
return {queue, dead, lists}
";

/// The connections the ledger reads the state through.
struct StateReader {
    queue: String,
    redis: redis::aio::MultiplexedConnection,
    postgres: tokio_postgres::Client,
    snapshot: Script,
}

impl StateReader {
    async fn connect(settings: &LedgerSettings) -> anyhow::Result<StateReader> {
        let redis_for_log = service_kit::redis_url::for_log(&settings.redis_url);
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let redis = redis::Client::open(settings.redis_url.as_str())
            .context("REDIS_URL (--redis-url) is not a valid Redis URL")?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .with_context(|| format!("cannot reach Redis at {redis_for_log} (--redis-url)"))?;
        let (postgres, connection) = settings.database.connect().await.with_context(|| {
            format!(
                "cannot reach PostgreSQL at {} (--database-url)",
                settings.database
            )
        })?;
        actix_rt::spawn(async move {
            // Ends with the client, or with the server: the next query then says why.
            let _ = connection.await;
        });
        Ok(StateReader {
            queue: settings.queue.clone(),
            redis,
            postgres,
            snapshot: Script::new(SNAPSHOT_SCRIPT),
        })
    }

    /// Redis first, then PostgreSQL: a vote moves only from Redis into PostgreSQL, so one that
    /// leaves Redis after the snapshot is in PostgreSQL by the time it is read (perhaps seen in
    /// both, which the ledger allows), and none is missed.
    async fn read(&mut self, voter_ids: &[String]) -> anyhow::Result<State> {
        type Lists = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(String, Vec<Vec<u8>>)>);
        let (queue, dead, processing): Lists = self
            .snapshot
            .key(&self.queue)
            .key(format!("{}:dead", self.queue))
            .arg(format!("{}:processing:", self.queue))
            .invoke_async(&mut self.redis)
            .await
            .context("reading the queue's lists from Redis")?;
        Ok(State {
            queue,
            processing,
            dead,
            rows: self.rows(voter_ids).await?,
        })
    }

    /// The rows of `voter_ids`; none while the worker has not made the table yet.
    async fn rows(&self, voter_ids: &[String]) -> anyhow::Result<Vec<Row>> {
        let rows = match self
            .postgres
            .query(
                "SELECT id, vote, ts FROM votes WHERE id = ANY($1)",
                &[&voter_ids],
            )
            .await
        {
            Ok(rows) => rows,
            Err(err) if err.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                Vec::new()
            }
            Err(err) => {
                return Err(anyhow::anyhow!(service_kit::postgres::explain(&err)))
                    .context("reading the votes from PostgreSQL");
            }
        };
        Ok(rows
            .iter()
            .map(|row| Row {
                voter_id: row.get(0),
                vote: row.get(1),
                ts: row.get(2),
            })
            .collect())
    }
}

/// `loadgen ledger ARGS`: prints the ledger and returns the exit status.
pub fn main(args: impl IntoIterator<Item = String>) -> std::process::ExitCode {
    use std::process::ExitCode;
    let settings = match LedgerSettings::parse(args) {
        Ok(settings) => settings,
        Err(UsageError::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(UsageError::Invalid(message)) => {
            eprintln!("loadgen ledger: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match actix_rt::System::new().block_on(run(&settings)) {
        Ok(ledger) => {
            if settings.json {
                println!(
                    "{}",
                    serde_json::to_string(&ledger).expect("a ledger always serializes")
                );
            } else {
                print!("{ledger}");
            }
            if ledger.holds(settings.wait.is_some()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("loadgen ledger: {err:#}");
            ExitCode::from(3)
        }
    }
}

#[cfg(test)]
mod tests {
    use ballot::VoteOption;

    use super::*;

    fn attempt(voter_id: &str, vote: VoteOption, outcome: Outcome, status: Option<u16>) -> Attempt {
        Attempt {
            voter_id: voter_id.to_owned(),
            vote,
            outcome,
            status,
            error: None,
            sent_ms: 0,
            answered_ms: 0,
        }
    }

    fn ack(voter_id: &str, vote: VoteOption) -> Attempt {
        attempt(voter_id, vote, Outcome::Ack, Some(303))
    }

    fn message(voter_id: &str, vote: &str, ts: i64) -> Vec<u8> {
        format!(r#"{{"voter_id":"{voter_id}","vote":"{vote}","ts":{ts}}}"#).into_bytes()
    }

    fn row(voter_id: &str, vote: &str, ts: i64) -> Row {
        Row {
            voter_id: voter_id.to_owned(),
            vote: vote.to_owned(),
            ts,
        }
    }

    use VoteOption::{A, B};

    #[test]
    fn re_votes_are_superseded_and_each_voters_last_is_found_where_it_is() {
        let attempts = [
            ack("v1", A),
            ack("v2", A),
            ack("v1", B),
            ack("v3", B),
            ack("v2", B),
            ack("v4", A),
        ];
        let state = State {
            // v2's last vote waits, v3's is in flight; v2's older row is not the newest.
            queue: vec![message("v2", "b", 20), message("someone", "a", 1)],
            processing: vec![("q:processing:w1".to_owned(), vec![message("v3", "b", 15)])],
            dead: vec![b"not json".to_vec()],
            rows: vec![row("v1", "b", 10), row("v2", "a", 5), row("v4", "a", 3)],
        };
        let ledger = Ledger::account(&attempts, &state);
        assert_eq!(
            (
                ledger.acknowledged,
                ledger.superseded,
                ledger.stored,
                ledger.waiting,
                ledger.in_flight,
                ledger.dead_lettered,
                ledger.missing
            ),
            (6, 2, 2, 1, 1, 0, 0)
        );
        assert!(ledger.balanced && ledger.consistent, "{ledger}");
        assert!(!ledger.settled);
        assert!(ledger.holds(false) && !ledger.holds(true));
        assert_eq!(ledger.rows, 3);
        assert_eq!(
            ledger.redis,
            RedisCounts {
                queue: 2,
                processing: 1,
                processing_lists: 1,
                dead: 1,
                queue_of_run: 1,
                processing_of_run: 1,
                dead_of_run: 0,
            }
        );
    }

    #[test]
    fn a_vote_found_nowhere_is_missing_and_an_older_one_in_its_place_mismatched() {
        let attempts = [ack("v1", A), ack("v2", A), ack("v2", B)];
        let state = State {
            rows: vec![row("v2", "a", 5)],
            ..State::default()
        };
        let ledger = Ledger::account(&attempts, &state);
        assert_eq!(
            (ledger.missing, ledger.mismatched, ledger.stored),
            (1, 1, 1)
        );
        assert!(!ledger.balanced && !ledger.consistent && !ledger.holds(false));
        assert_eq!(
            ledger.problems,
            vec![
                Problem {
                    voter_id: "v1".to_owned(),
                    kind: "missing",
                    last_acknowledged: "a".to_owned(),
                    found: None,
                },
                Problem {
                    voter_id: "v2".to_owned(),
                    kind: "mismatched",
                    last_acknowledged: "b".to_owned(),
                    found: Some(Found {
                        vote: "a".to_owned(),
                        ts: 5,
                        place: Place::Stored
                    }),
                },
            ]
        );
        let text = ledger.to_string();
        assert!(
            text.contains("acknowledged 3 = superseded 1 + stored 1 + waiting 0 + in flight 0 + dead-lettered 0 + missing 1"),
            "{text}"
        );
        assert!(text.contains("missing: voter v1 acknowledged a"), "{text}");
        assert!(text.contains("NOT balanced"), "{text}");
    }

    #[test]
    fn a_later_attempt_that_may_have_been_recorded_explains_another_vote() {
        let unknown = |voter, vote| attempt(voter, vote, Outcome::Unknown, None);
        let refused = |voter, vote, status| attempt(voter, vote, Outcome::Refused, status);
        let attempts = [
            ack("v1", A),
            unknown("v1", B),
            ack("v2", A),
            refused("v2", B, Some(503)),
            ack("v3", A),
            refused("v3", B, None),
            ack("v4", A),
            refused("v4", B, Some(400)),
            // An earlier unknown attempt does not explain anything: its stamp is older.
            unknown("v5", B),
            ack("v5", A),
            unknown("v6", A),
        ];
        let state = State {
            rows: ["v1", "v2", "v3", "v4", "v5", "v6"]
                .into_iter()
                .map(|voter| row(voter, "b", 9))
                .chain([row("v6", "a", 9)])
                .collect(),
            ..State::default()
        };
        let ledger = Ledger::account(&attempts, &state);
        assert_eq!(ledger.overtaken, 2, "v1 and v2: {ledger}");
        let mismatched: Vec<&str> = ledger
            .problems
            .iter()
            .map(|problem| problem.voter_id.as_str())
            .collect();
        assert_eq!(mismatched, ["v3", "v4", "v5"], "{ledger}");
        assert_eq!(ledger.unacknowledged_found, 1, "v6");
        assert!(ledger.balanced && !ledger.consistent);
        assert_eq!((ledger.refused, ledger.unknown), (3, 3));
    }

    #[test]
    fn a_batch_committed_and_not_yet_acknowledged_is_in_flight_and_a_newer_message_wins_a_tie() {
        let attempts = [ack("v1", A), ack("v2", A), ack("v2", B)];
        let state = State {
            processing: vec![("q:processing:w1".to_owned(), vec![message("v1", "a", 7)])],
            // Same ts: the worker replaces the row (greater or equal), so the queued one counts.
            queue: vec![message("v2", "b", 8)],
            rows: vec![row("v1", "a", 7), row("v2", "a", 8)],
            dead: Vec::new(),
        };
        let ledger = Ledger::account(&attempts, &state);
        assert_eq!((ledger.in_flight, ledger.waiting, ledger.stored), (1, 1, 0));
        assert!(ledger.balanced && ledger.consistent && !ledger.settled);
    }

    #[test]
    fn a_dead_lettered_last_vote_is_accounted_for_and_settled() {
        let attempts = [ack("v1", A)];
        let state = State {
            dead: vec![br#"{"voter_id":"v1","vote":"a","ts":-1}"#.to_vec()],
            ..State::default()
        };
        let ledger = Ledger::account(&attempts, &state);
        assert_eq!((ledger.dead_lettered, ledger.redis.dead_of_run), (1, 1));
        assert!(ledger.holds(true), "{ledger}");
    }

    #[test]
    fn the_json_names_every_term() {
        let ledger = Ledger::account(&[ack("v1", A)], &State::default());
        let json = serde_json::to_value(&ledger).unwrap();
        for field in [
            "balanced",
            "consistent",
            "settled",
            "attempts",
            "voters",
            "acknowledged",
            "refused",
            "unknown",
            "superseded",
            "stored",
            "waiting",
            "in_flight",
            "dead_lettered",
            "missing",
            "overtaken",
            "mismatched",
            "unacknowledged_found",
            "rows",
            "redis",
            "problems",
        ] {
            assert!(json.get(field).is_some(), "{field} in {json}");
        }
        assert_eq!(json["problems"][0]["kind"], "missing");
        assert_eq!(json["redis"]["queue_of_run"], 0);
    }

    #[test]
    fn the_file_is_needed_and_the_defaults_are_the_apps() {
        let parse = |args: &[&str]| LedgerSettings::parse(args.iter().map(|a| a.to_string()));
        let err = parse(&[]).err().expect("no file");
        assert_eq!(err, UsageError::Invalid("--acks FILE is needed".to_owned()));
        let settings = parse(&["--acks", "run.jsonl", "--json", "--wait-secs=1.5"]).unwrap();
        assert_eq!(settings.acks, PathBuf::from("run.jsonl"));
        assert!(settings.json);
        assert_eq!(settings.wait, Some(Duration::from_millis(1500)));
    }
}
