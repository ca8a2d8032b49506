//! The acknowledgements file (`--acks FILE`): one JSON line per vote posted, saying who voted
//! what and how the vote service answered, written as each answer arrives. It is what the
//! ledger ([`crate::ledger`]) holds the system's state to.
//!
//! A line: `{"voter_id":"…","vote":"a","outcome":"ack","status":303,"error":null,
//! "sent_ms":1700000000000,"answered_ms":1700000000002}`. A voter's lines are in the order of
//! the voter's votes (a voter has one vote in flight at a time). Each line goes to the
//! operating system in one write as soon as it is known, so a load generator that is killed
//! leaves every answered vote in the file; only an attempt still in flight has no line.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

use ballot::VoteOption;
use serde::{Deserialize, Serialize};

use crate::client::Answer;

/// How the vote service answered an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// `303` (form) or `202` (API): Redis acknowledged the vote. The product promises that it
    /// is never lost.
    Ack,
    /// A 4xx, a 503 (Redis failed or did not answer in time), or no connection at all: the
    /// service did not record the vote. (Redis may still apply an append it received but
    /// answered too late for the 503's deadline: the ledger allows for it.)
    Refused,
    /// A timeout, a connection broken after the request was sent, or an unexpected answer:
    /// the vote may or may not have been recorded.
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ack => "ack",
            Outcome::Refused => "refused",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub voter_id: String,
    pub vote: VoteOption,
    pub outcome: Outcome,
    /// The HTTP status, when the service answered.
    pub status: Option<u16>,
    /// Why the vote was not acknowledged, for people: the status or the transport error.
    pub error: Option<String>,
    /// When the request was sent and when its answer (or the failure) came, in Unix
    /// milliseconds by the load generator's clock. The vote service stamps an accepted vote's
    /// `ts` between the two, by its own clock.
    pub sent_ms: i64,
    pub answered_ms: i64,
}

impl Attempt {
    pub fn new(
        voter_id: &str,
        vote: VoteOption,
        answer: &Answer,
        sent_ms: i64,
        answered_ms: i64,
    ) -> Attempt {
        let (outcome, status, error) = match answer {
            Answer::Accepted { status } => (Outcome::Ack, Some(*status), None),
            Answer::Refused { status, failure } => {
                (Outcome::Refused, *status, Some(failure.clone()))
            }
            Answer::Unknown { status, failure } => {
                (Outcome::Unknown, *status, Some(failure.clone()))
            }
        };
        Attempt {
            voter_id: voter_id.to_owned(),
            vote,
            outcome,
            status,
            error,
            sent_ms,
            answered_ms,
        }
    }
}

/// The file being written.
pub struct AckLog {
    path: PathBuf,
    file: File,
}

impl AckLog {
    /// Creates (or empties) the file.
    pub fn create(path: &Path) -> anyhow::Result<AckLog> {
        let file = File::create(path).map_err(|err| {
            anyhow::anyhow!("cannot create the acknowledgements file {path:?}: {err}")
        })?;
        Ok(AckLog {
            path: path.to_owned(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line in a single write, unbuffered: a crash of the load generator right
    /// after cannot lose it, nor leave half of it but in the one write it interrupts.
    pub fn record(&self, attempt: &Attempt) -> io::Result<()> {
        let mut line = serde_json::to_vec(attempt).expect("an attempt always serializes");
        line.push(b'\n');
        (&self.file).write_all(&line)
    }
}

/// The attempts of a file, in its order. A last line without its newline that does not parse
/// is the one write a killed load generator interrupted, and is left out; any other line that
/// does not parse is an error naming its number.
pub fn read(path: &Path) -> anyhow::Result<Vec<Attempt>> {
    let file = File::open(path)
        .map_err(|err| anyhow::anyhow!("cannot open the acknowledgements file {path:?}: {err}"))?;
    let mut attempts = Vec::new();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    for number in 1.. {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|err| anyhow::anyhow!("reading {path:?}: {err}"))?;
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(attempt) => attempts.push(attempt),
            Err(_) if !line.ends_with('\n') => break,
            Err(err) => anyhow::bail!("{path:?} line {number} is not an attempt: {err}"),
        }
    }
    Ok(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(voter_id: &str, outcome: Outcome) -> Attempt {
        Attempt {
            voter_id: voter_id.to_owned(),
            vote: VoteOption::B,
            outcome,
            status: Some(303),
            error: None,
            sent_ms: 1_700_000_000_000,
            answered_ms: 1_700_000_000_002,
        }
    }

    #[test]
    fn a_line_has_the_documented_shape() {
        let line = serde_json::to_string(&attempt("v1", Outcome::Ack)).unwrap();
        assert_eq!(
            line,
            r#"{"voter_id":"v1","vote":"b","outcome":"ack","status":303,"error":null,"sent_ms":1700000000000,"answered_ms":1700000000002}"#
        );
    }

    #[test]
    fn lines_come_back_in_order_and_a_torn_last_line_is_left_out() {
        let path = std::env::temp_dir().join(format!("acks-test-{}", std::process::id()));
        let log = AckLog::create(&path).unwrap();
        log.record(&attempt("v1", Outcome::Ack)).unwrap();
        log.record(&attempt("v2", Outcome::Unknown)).unwrap();
        (&log.file).write_all(br#"{"voter_id":"v3","vo"#).unwrap();
        let read_back = read(&path).unwrap();
        assert_eq!(
            read_back,
            vec![attempt("v1", Outcome::Ack), attempt("v2", Outcome::Unknown)]
        );

        (&log.file).write_all(b"\n{}\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 3 is not an attempt"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
