//! The queue message of SPEC section 2: what the vote service appends to `VOTE_QUEUE` and the
//! worker drains. `{"voter_id":"…","vote":"a","ts":1700000000000}`; the original vote app sends
//! no `ts`, which counts as 0.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One of the two options. The stored values are `a` and `b`; labels come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteOption {
    A,
    B,
}

impl VoteOption {
    pub const ALL: [VoteOption; 2] = [VoteOption::A, VoteOption::B];

    pub fn as_str(self) -> &'static str {
        match self {
            VoteOption::A => "a",
            VoteOption::B => "b",
        }
    }

    /// Exactly `a` or `b`.
    pub fn parse(value: &str) -> Option<VoteOption> {
        match value {
            "a" => Some(VoteOption::A),
            "b" => Some(VoteOption::B),
            _ => None,
        }
    }
}

/// The longest voter id the `votes.id VARCHAR(255)` column of the original schema holds.
pub const MAX_VOTER_ID_BYTES: usize = 255;

/// A vote as it travels through the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ballot {
    pub voter_id: String,
    pub vote: VoteOption,
    /// When the vote service accepted the vote, in Unix milliseconds; 0 for the original's
    /// messages, which carry none.
    pub ts: i64,
}

/// Why a queue message is not a ballot (it goes to the dead-letter list).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedBallot {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("voter_id is missing or not a string of 1 to 255 bytes")]
    BadVoterId,
    #[error("vote is missing or not \"a\" or \"b\"")]
    BadVote,
    #[error("ts is not a non-negative integer of milliseconds")]
    BadTimestamp,
}

impl Ballot {
    /// A ballot accepted now.
    pub fn new(voter_id: String, vote: VoteOption) -> Ballot {
        Ballot {
            voter_id,
            vote,
            ts: now_millis(),
        }
    }

    /// The message appended to the queue.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a ballot always serializes")
    }

    /// Parses a message as received from the queue, by the rules of SPEC section 4.
    pub fn from_queue(message: &[u8]) -> Result<Ballot, MalformedBallot> {
        // A map, not a derived struct: serde would take `["id","a"]` for a struct too, and each
        // field's fault is named separately.
        let mut fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(message)
                .map_err(|err| MalformedBallot::NotJson(err.to_string()))?;
        let voter_id = match fields.remove("voter_id") {
            Some(serde_json::Value::String(id))
                if !id.is_empty() && id.len() <= MAX_VOTER_ID_BYTES =>
            {
                id
            }
            _ => return Err(MalformedBallot::BadVoterId),
        };
        let vote = match fields.get("vote") {
            Some(serde_json::Value::String(vote)) => {
                VoteOption::parse(vote).ok_or(MalformedBallot::BadVote)?
            }
            _ => return Err(MalformedBallot::BadVote),
        };
        let ts = match fields.get("ts") {
            None => 0,
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .filter(|ts| *ts >= 0)
                .ok_or(MalformedBallot::BadTimestamp)?,
            // Present but null, a string, a float...: not a non-negative integer.
            Some(_) => return Err(MalformedBallot::BadTimestamp),
        };
        Ok(Ballot { voter_id, vote, ts })
    }
}

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let ballot = Ballot::new("abc".into(), VoteOption::B);
        let json = ballot.to_json();
        assert!(
            json.starts_with(r#"{"voter_id":"abc","vote":"b","ts":"#),
            "{json}"
        );
        assert_eq!(Ballot::from_queue(json.as_bytes()), Ok(ballot));
    }

    #[test]
    fn the_originals_form_has_ts_zero() {
        let ballot = Ballot::from_queue(br#"{"voter_id":"x1","vote":"a"}"#).unwrap();
        assert_eq!(ballot.ts, 0);
        assert_eq!(ballot.vote, VoteOption::A);
    }

    #[test]
    fn each_fault_is_named() {
        use MalformedBallot::*;
        let long_id = format!(r#"{{"voter_id":"{}","vote":"a"}}"#, "x".repeat(256));
        let cases: [(&[u8], MalformedBallot); 10] = [
            (b"not json", NotJson(String::new())),
            (b"[1,2]", NotJson(String::new())),
            (br#"{"vote":"a"}"#, BadVoterId),
            (br#"{"voter_id":"","vote":"a"}"#, BadVoterId),
            (br#"{"voter_id":7,"vote":"a"}"#, BadVoterId),
            (long_id.as_bytes(), BadVoterId),
            (br#"{"voter_id":"x","vote":"c"}"#, BadVote),
            (br#"{"voter_id":"x"}"#, BadVote),
            (br#"{"voter_id":"x","vote":"a","ts":-1}"#, BadTimestamp),
            (br#"{"voter_id":"x","vote":"a","ts":1.5}"#, BadTimestamp),
        ];
        for (message, expected) in cases {
            let got = Ballot::from_queue(message).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&got),
                std::mem::discriminant(&expected),
                "{}",
                String::from_utf8_lossy(message)
            );
        }
        assert_eq!(
            Ballot::from_queue(br#"{"voter_id":"x","vote":"a","ts":null}"#),
            Err(BadTimestamp)
        );
        assert_eq!(
            Ballot::from_queue(br#"{"voter_id":"x","vote":"a","ts":"5"}"#),
            Err(BadTimestamp)
        );
    }
}
