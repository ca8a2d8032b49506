//! What to send and where: command-line flags, each also readable from an environment variable
//! so that the compose `seed` profile configures the generator without a shell. A flag wins
//! over its variable; an empty variable counts as unset, as everywhere in the app.

use std::{collections::HashMap, fmt::Display, path::PathBuf, str::FromStr, time::Duration};

use service_kit::config::var_or;

/// Where a vote is posted: the plain form a browser submits, or the JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /` with `vote=a`, answered `303 See Other`.
    Form,
    /// `POST /api/vote` with `{"vote":"a"}`, answered `202 Accepted`.
    Api,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Form => "form",
            Endpoint::Api => "api",
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [Endpoint::Form, Endpoint::Api]
            .into_iter()
            .find(|endpoint| endpoint.as_str() == value)
            .ok_or_else(|| "expected form or api".to_owned())
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The vote service's base URL.
    pub vote_url: String,
    /// How many votes to post; with a duration, the most to post (unlimited unless given).
    pub votes: u64,
    /// `Some(d)`: post for `d`, then stop (at `votes`, if that comes first).
    pub duration: Option<Duration>,
    /// Votes per second to aim at, all lanes together; 0: as fast as the service answers.
    pub rate: f64,
    /// How many requests are in flight at once.
    pub concurrency: usize,
    /// The share of votes that go to option a, from 0 to 1.
    pub split: f64,
    /// `Some(p)`: a fixed population of `p` voters who vote again and again (re-votes);
    /// `None`: every vote comes from a new voter.
    pub voters: Option<u64>,
    pub endpoint: Endpoint,
    /// The result service's base URL, when the run waits for it to show the votes.
    pub result_url: Option<String>,
    /// How long to wait for the result service to show the expected totals.
    pub wait_timeout: Duration,
    /// Where to write one JSON line per attempt ([`crate::acks`]), if anywhere.
    pub acks: Option<PathBuf>,
    /// Exit 0 even when some votes were refused or their outcome is unknown: under faults, the
    /// run's job is to report them (and the acknowledgements file to list them).
    pub allow_failures: bool,
}

/// The flags, their environment variables, and what they mean; `--help` prints it.
pub const USAGE: &str = "\
usage: loadgen [--flag value]...   (each flag also reads the environment variable shown)

  --url URL             LOADGEN_URL           vote service (default http://localhost:8080)
  --votes N             LOADGEN_VOTES         votes to post (default 1000; with
                                              --duration-secs, no limit unless given)
  --duration-secs D     LOADGEN_DURATION_SECS post for D seconds instead of a number of votes
  --rate R              LOADGEN_RATE          votes per second to aim at, all connections
                                              together (default 0: as fast as answered)
  --concurrency C       LOADGEN_CONCURRENCY   requests in flight at once (default 10)
  --split S             LOADGEN_SPLIT         share of votes for option a, 0 to 1 (default 0.5)
  --voters P            LOADGEN_VOTERS        a fixed population of P voters re-voting
                                              (default: every vote from a new voter)
  --endpoint form|api   LOADGEN_ENDPOINT      POST / as a browser does, or POST /api/vote
                                              (default form)
  --wait-result URL     LOADGEN_WAIT_RESULT   result service to watch until it shows the
                                              votes (default: do not wait)
  --timeout-secs T      LOADGEN_TIMEOUT_SECS  how long to wait for the result (default 60)
  --acks FILE           LOADGEN_ACKS          write one JSON line per vote posted: voter_id,
                                              vote, outcome (ack, refused, unknown), times
  --allow-failures      LOADGEN_ALLOW_FAILURES=true   exit 0 even if votes were refused or
                                              their outcome is unknown (a run under faults)

A voter never has two votes in flight, and waits at least 5 ms after one vote is answered
before posting the next, so the service stamps each re-vote with a later millisecond.

Exits 0 when every vote was accepted (and, with --wait-result, shown in time), 1 otherwise,
2 on a usage error.

  loadgen ledger --help   where every acknowledged vote of an --acks file is now";

/// Why the command line or the environment cannot be used. The message names the flag or the
/// variable.
#[derive(Debug, PartialEq, Eq)]
pub enum UsageError {
    /// `--help` was asked for.
    Help,
    Invalid(String),
}

impl Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::Help => f.write_str(USAGE),
            UsageError::Invalid(message) => write!(f, "{message}\n\n{USAGE}"),
        }
    }
}

/// A setting's flag and environment variable.
pub(crate) type Setting = (&'static str, &'static str);

const URL: Setting = ("--url", "LOADGEN_URL");
const VOTES: Setting = ("--votes", "LOADGEN_VOTES");
const CONCURRENCY: Setting = ("--concurrency", "LOADGEN_CONCURRENCY");
const SPLIT: Setting = ("--split", "LOADGEN_SPLIT");
const VOTERS: Setting = ("--voters", "LOADGEN_VOTERS");
const ENDPOINT: Setting = ("--endpoint", "LOADGEN_ENDPOINT");
const WAIT_RESULT: Setting = ("--wait-result", "LOADGEN_WAIT_RESULT");
const TIMEOUT_SECS: Setting = ("--timeout-secs", "LOADGEN_TIMEOUT_SECS");
const DURATION_SECS: Setting = ("--duration-secs", "LOADGEN_DURATION_SECS");
const RATE: Setting = ("--rate", "LOADGEN_RATE");
const ACKS: Setting = ("--acks", "LOADGEN_ACKS");
const ALLOW_FAILURES: Setting = ("--allow-failures", "LOADGEN_ALLOW_FAILURES");
const ALL: [Setting; 12] = [
    URL,
    VOTES,
    CONCURRENCY,
    SPLIT,
    VOTERS,
    ENDPOINT,
    WAIT_RESULT,
    TIMEOUT_SECS,
    DURATION_SECS,
    RATE,
    ACKS,
    ALLOW_FAILURES,
];
/// The settings given as a bare flag, without a value: `--allow-failures` means true.
const SWITCHES: [Setting; 1] = [ALLOW_FAILURES];

impl Settings {
    /// Reads `args` (without the program name: `--votes 100` or `--votes=100`) over the
    /// environment.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Settings, UsageError> {
        let mut given = Given::from_args(args, &ALL, &SWITCHES)?;
        let duration = given.seconds(DURATION_SECS)?;
        let settings = Settings {
            vote_url: given
                .text(URL)
                .unwrap_or_else(|| "http://localhost:8080".to_owned()),
            votes: given
                .parsed(VOTES)?
                .unwrap_or(if duration.is_some() { u64::MAX } else { 1000 }),
            duration,
            rate: given.parsed(RATE)?.unwrap_or(0.0),
            concurrency: given.parsed(CONCURRENCY)?.unwrap_or(10),
            split: given.parsed(SPLIT)?.unwrap_or(0.5),
            voters: given.parsed(VOTERS)?,
            endpoint: given.parsed(ENDPOINT)?.unwrap_or(Endpoint::Form),
            result_url: given.text(WAIT_RESULT),
            wait_timeout: Duration::from_secs(given.parsed(TIMEOUT_SECS)?.unwrap_or(60)),
            acks: given.text(ACKS).map(PathBuf::from),
            allow_failures: given.parsed(ALLOW_FAILURES)?.unwrap_or(false),
        };
        settings.check()
    }

    fn check(self) -> Result<Settings, UsageError> {
        let invalid = |message: &str| Err(UsageError::Invalid(message.to_owned()));
        if self.concurrency == 0 {
            return invalid("--concurrency must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.split) {
            return invalid("--split must be between 0 and 1");
        }
        if self.voters == Some(0) {
            return invalid("--voters must be at least 1");
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return invalid("--rate must be a number of votes per second, 0 for no limit");
        }
        Ok(self)
    }
}

/// The flags given on the command line, consulted before the environment.
pub(crate) struct Given {
    flags: HashMap<&'static str, String>,
}

impl Given {
    /// `known`: the settings there are; `switches`: those of them that stand alone
    /// (`--json`, true) or take an inline value (`--json=false`), never the next argument.
    pub(crate) fn from_args(
        args: impl IntoIterator<Item = String>,
        known: &[Setting],
        switches: &[Setting],
    ) -> Result<Given, UsageError> {
        let mut flags = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(UsageError::Help);
            }
            let (name, inline_value) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let Some(&(flag, _)) = known.iter().find(|(flag, _)| *flag == name) else {
                return Err(UsageError::Invalid(format!("unknown argument {name:?}")));
            };
            let switch = switches.iter().any(|(switch, _)| *switch == flag);
            let value = match inline_value {
                Some(value) => value,
                None if switch => "true".to_owned(),
                None => args
                    .next()
                    .ok_or_else(|| UsageError::Invalid(format!("{flag} needs a value")))?,
            };
            flags.insert(flag, value);
        }
        Ok(Given { flags })
    }

    /// The setting's text and the name it came by (the flag or the variable), if given.
    fn lookup(&mut self, (flag, variable): Setting) -> Option<(&'static str, String)> {
        if let Some(value) = self.flags.remove(flag) {
            return Some((flag, value));
        }
        // An unset or blank variable comes back as the empty default.
        let value = var_or(variable, "");
        (!value.is_empty()).then_some((variable, value))
    }

    pub(crate) fn text(&mut self, setting: Setting) -> Option<String> {
        self.lookup(setting).map(|(_, value)| value)
    }

    /// The setting as a non-negative number of seconds, fractions allowed.
    pub(crate) fn seconds(&mut self, setting: Setting) -> Result<Option<Duration>, UsageError> {
        self.parsed::<f64>(setting)?
            .map(|seconds| {
                Duration::try_from_secs_f64(seconds).map_err(|_| {
                    UsageError::Invalid(format!("{} must be a number of seconds", setting.0))
                })
            })
            .transpose()
    }

    pub(crate) fn parsed<T>(&mut self, setting: Setting) -> Result<Option<T>, UsageError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some((name, value)) = self.lookup(setting) else {
            return Ok(None);
        };
        value
            .trim()
            .parse()
            .map(Some)
            .map_err(|err| UsageError::Invalid(format!("{name}={value:?} is invalid: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by every test that reads the environment, and by the one that changes it, so
    /// that no test reads a variable another test set for itself.
    static ENVIRONMENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn environment() -> std::sync::MutexGuard<'static, ()> {
        ENVIRONMENT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn parse(args: &[&str]) -> Result<Settings, UsageError> {
        let _environment = environment();
        parse_holding_environment(args)
    }

    fn parse_holding_environment(args: &[&str]) -> Result<Settings, UsageError> {
        Settings::parse(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn flags_in_both_forms() {
        let settings = parse(&[
            "--votes",
            "50",
            "--concurrency=4",
            "--split",
            "0.25",
            "--voters",
            "7",
            "--endpoint",
            "api",
            "--wait-result",
            "http://result:8081",
            "--timeout-secs",
            "5",
            "--url",
            "http://vote:8080",
        ])
        .unwrap();
        assert_eq!(settings.votes, 50);
        assert_eq!(settings.concurrency, 4);
        assert_eq!(settings.split, 0.25);
        assert_eq!(settings.voters, Some(7));
        assert_eq!(settings.endpoint, Endpoint::Api);
        assert_eq!(settings.result_url.as_deref(), Some("http://result:8081"));
        assert_eq!(settings.wait_timeout, Duration::from_secs(5));
        assert_eq!(settings.vote_url, "http://vote:8080");
    }

    #[test]
    fn steady_load_acks_and_allowed_failures() {
        let settings = parse(&[
            "--duration-secs",
            "2.5",
            "--rate",
            "200",
            "--acks",
            "/tmp/acks.jsonl",
            "--allow-failures",
        ])
        .unwrap();
        assert_eq!(settings.duration, Some(Duration::from_millis(2500)));
        assert_eq!(settings.votes, u64::MAX, "no limit but the duration");
        assert_eq!(settings.rate, 200.0);
        assert_eq!(settings.acks, Some(PathBuf::from("/tmp/acks.jsonl")));
        assert!(settings.allow_failures);

        let both = parse(&["--duration-secs", "9", "--votes", "10"]).unwrap();
        assert_eq!(
            (both.duration, both.votes),
            (Some(Duration::from_secs(9)), 10)
        );
        let defaults = parse(&["--allow-failures=false"]).unwrap();
        assert_eq!((defaults.duration, defaults.votes), (None, 1000));
        assert_eq!((defaults.rate, defaults.acks), (0.0, None));
        assert!(!defaults.allow_failures);

        // A switch never takes the next argument as its value.
        let err = parse(&["--allow-failures", "yes"]).unwrap_err().to_string();
        assert!(err.starts_with("unknown argument \"yes\""), "{err}");
        let err = parse(&["--rate", "-1"]).unwrap_err().to_string();
        assert!(err.starts_with("--rate must be"), "{err}");
        let err = parse(&["--duration-secs", "-1"]).unwrap_err().to_string();
        assert!(err.starts_with("--duration-secs must be"), "{err}");
    }

    #[test]
    fn errors_name_the_flag() {
        let err = parse(&["--votes", "many"]).unwrap_err().to_string();
        assert!(err.starts_with("--votes=\"many\" is invalid"), "{err}");
        let err = parse(&["--split", "1.5"]).unwrap_err().to_string();
        assert!(err.starts_with("--split must be between 0 and 1"), "{err}");
        let err = parse(&["--bogus", "1"]).unwrap_err().to_string();
        assert!(err.starts_with("unknown argument \"--bogus\""), "{err}");
        let err = parse(&["--votes"]).unwrap_err().to_string();
        assert!(err.starts_with("--votes needs a value"), "{err}");
        assert_eq!(parse(&["--help"]).unwrap_err(), UsageError::Help);
    }

    #[test]
    fn the_environment_fills_in_and_a_flag_wins() {
        let _environment = environment();
        // SAFETY of the test: every other test of this module reads the environment only while
        // holding `ENVIRONMENT`, which this one holds until it has removed its variables.
        unsafe {
            std::env::set_var("LOADGEN_VOTERS", "12");
            std::env::set_var("LOADGEN_ENDPOINT", " ");
        }
        let from_env = parse_holding_environment(&[]).unwrap();
        assert_eq!(from_env.voters, Some(12));
        assert_eq!(
            from_env.endpoint,
            Endpoint::Form,
            "an empty variable is unset"
        );
        assert_eq!(
            parse_holding_environment(&["--voters", "3"])
                .unwrap()
                .voters,
            Some(3)
        );
        unsafe { std::env::set_var("LOADGEN_VOTERS", "none") };
        let err = parse_holding_environment(&[]).unwrap_err().to_string();
        assert!(
            err.starts_with("LOADGEN_VOTERS=\"none\" is invalid"),
            "{err}"
        );
        unsafe {
            std::env::remove_var("LOADGEN_VOTERS");
            std::env::remove_var("LOADGEN_ENDPOINT");
        }
    }
}
