//! The queue message of SPEC section 2: what the vote service appends to `VOTE_QUEUE` and the
//! worker drains. `{"voter_id":"…","vote":"a","ts":1700000000000}`; the original vote app sends
//! no `ts`, which counts as 0.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use crate::{VoteOption, VoterId};

/// The longest voter id the `votes.id VARCHAR(255)` column of the original schema holds.
pub const MAX_VOTER_ID_BYTES: usize = 255;

/// A vote as it travels through the queue. Its voter id is any string of 1 to 255 bytes
/// without NUL, not only the shape our vote service makes: the original's producer, and any
/// mix of the two, share the queue.
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
    #[error("voter_id is missing or not a string of 1 to 255 bytes without NUL")]
    BadVoterId,
    #[error("vote is missing or not \"a\" or \"b\"")]
    BadVote,
    #[error("ts is not a non-negative integer of milliseconds")]
    BadTimestamp,
}

impl Ballot {
    /// A ballot accepted now.
    pub fn new(voter_id: VoterId, vote: VoteOption) -> Ballot {
        Ballot {
            voter_id: voter_id.into_string(),
            vote,
            ts: now_millis(),
        }
    }

    /// The message appended to the queue.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a ballot always serializes")
    }

    /// Parses a message as received from the queue, by the rules of SPEC section 4. A voter
    /// id must not contain NUL either, which PostgreSQL text cannot hold: such a message would
    /// otherwise fail its batch forever.
    pub fn from_queue(message: &[u8]) -> Result<Ballot, MalformedBallot> {
        // A map, not a derived struct: serde would take `["id","a"]` for a struct too, and each
        // field's fault is named separately.
        let mut fields: serde_json::Map<String, Value> = serde_json::from_slice(message)
            .map_err(|err| MalformedBallot::NotJson(err.to_string()))?;
        let voter_id = match fields.remove("voter_id") {
            Some(Value::String(id))
                if !id.is_empty() && id.len() <= MAX_VOTER_ID_BYTES && !id.contains('\0') =>
            {
                id
            }
            _ => return Err(MalformedBallot::BadVoterId),
        };
        let vote = match fields.get("vote") {
            Some(Value::String(vote)) => VoteOption::parse(vote).ok_or(MalformedBallot::BadVote)?,
            _ => return Err(MalformedBallot::BadVote),
        };
        let ts = match fields.get("ts") {
            None => 0,
            Some(Value::Number(n)) => n
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
        let ballot = Ballot::new(VoterId::parse("abc").unwrap(), VoteOption::B);
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
    fn any_voter_id_of_1_to_255_bytes_without_nul_is_taken() {
        let longest = format!(r#"{{"voter_id":"{}","vote":"a"}}"#, "é".repeat(127));
        assert_eq!(
            Ballot::from_queue(longest.as_bytes())
                .unwrap()
                .voter_id
                .len(),
            254
        );
        let spaced = Ballot::from_queue(br#"{"voter_id":"a b <c>","vote":"b"}"#).unwrap();
        assert_eq!(spaced.voter_id, "a b <c>");
    }

    #[test]
    fn each_fault_is_named() {
        use MalformedBallot::*;
        let long_id = format!(r#"{{"voter_id":"{}","vote":"a"}}"#, "x".repeat(256));
        let cases: [(&[u8], MalformedBallot); 11] = [
            (b"not json", NotJson(String::new())),
            (b"[1,2]", NotJson(String::new())),
            (br#"{"vote":"a"}"#, BadVoterId),
            (br#"{"voter_id":"","vote":"a"}"#, BadVoterId),
            (br#"{"voter_id":7,"vote":"a"}"#, BadVoterId),
            (long_id.as_bytes(), BadVoterId),
            (br#"{"voter_id":"x\u0000y","vote":"a"}"#, BadVoterId),
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
