//! The queue message (`ballot::Ballot::from_queue`, what the worker reads off Redis): what it
//! must do with any bytes, by SPEC section 4.
//!
//! - A message is taken exactly when it is a JSON object whose `voter_id` is a string of 1 to
//!   255 bytes without NUL, whose `vote` is `"a"` or `"b"`, and whose `ts`, if present, is an
//!   integer from 0 up; anything else is refused (and dead-lettered), with the first fault in
//!   that order named.
//! - What is taken is what the message says, and it serialises to a message that is taken as
//!   the same ballot.
//!
//! The fuzz target `queue_message` and ballot's property tests (`tests/parsers.rs`) both check
//! these.

use ballot::{Ballot, MAX_VOTER_ID_BYTES, MalformedBallot, VoteOption};
use serde_json::{Map, Number, Value};

/// Any bytes as a queue message.
pub fn check_any_message(message: &[u8]) {
    let parsed = Ballot::from_queue(message);
    match (expected(message), &parsed) {
        (Ok(expected), Ok(ballot)) => {
            assert_eq!(ballot, &expected, "{:?}", String::from_utf8_lossy(message));
            let again = Ballot::from_queue(ballot.to_json().as_bytes());
            assert_eq!(again.as_ref(), Ok(ballot), "{ballot:?} does not round-trip");
        }
        (Err(expected), Err(fault)) => assert_eq!(
            std::mem::discriminant(fault),
            std::mem::discriminant(&expected),
            "{:?}: {fault}",
            String::from_utf8_lossy(message)
        ),
        (expected, parsed) => panic!(
            "{:?} should give {expected:?}, gives {parsed:?}",
            String::from_utf8_lossy(message)
        ),
    }
}

/// SPEC section 4's rules, read off the message as a JSON value.
fn expected(message: &[u8]) -> Result<Ballot, MalformedBallot> {
    let fields: Map<String, Value> = match serde_json::from_slice::<Value>(message) {
        Ok(Value::Object(fields)) => fields,
        Ok(other) => return Err(MalformedBallot::NotJson(format!("{other}"))),
        Err(err) => return Err(MalformedBallot::NotJson(err.to_string())),
    };
    let voter_id = match fields.get("voter_id") {
        Some(Value::String(id))
            if (1..=MAX_VOTER_ID_BYTES).contains(&id.len()) && !id.contains('\0') =>
        {
            id.clone()
        }
        _ => return Err(MalformedBallot::BadVoterId),
    };
    let vote = match fields.get("vote").and_then(Value::as_str) {
        Some("a") => VoteOption::A,
        Some("b") => VoteOption::B,
        _ => return Err(MalformedBallot::BadVote),
    };
    let ts = match fields.get("ts") {
        None => 0,
        // An integer (not a fraction) from 0 to i64's largest.
        Some(Value::Number(n)) if !n.is_f64() && n.as_i64().is_some_and(|ts| ts >= 0) => {
            n.as_i64().unwrap_or_default()
        }
        Some(_) => return Err(MalformedBallot::BadTimestamp),
    };
    Ok(Ballot { voter_id, vote, ts })
}

/// A message written from known parts: each is taken, or refused for its own fault.
#[derive(Debug, Clone)]
pub struct MessageParts {
    /// Any string; [`MessageParts::fault`] says whether it is a valid voter id.
    pub voter_id: String,
    /// `a` or `b`, or any other string.
    pub vote: String,
    /// `None`: no `ts`, as the original vote app sends.
    pub ts: Option<Value>,
    /// Other fields, which are ignored (those named as the three are left out).
    pub extra: Vec<(String, Value)>,
    /// Written with newlines and indentation rather than compact.
    pub pretty: bool,
}

impl MessageParts {
    /// The fault the worker must find in these parts, in its order, or `None`.
    pub fn fault(&self) -> Option<MalformedBallot> {
        if self.voter_id.is_empty()
            || self.voter_id.len() > MAX_VOTER_ID_BYTES
            || self.voter_id.contains('\0')
        {
            return Some(MalformedBallot::BadVoterId);
        }
        if VoteOption::parse(&self.vote).is_none() {
            return Some(MalformedBallot::BadVote);
        }
        match &self.ts {
            None => None,
            Some(Value::Number(n)) if !n.is_f64() && n.as_i64().is_some_and(|ts| ts >= 0) => None,
            Some(_) => Some(MalformedBallot::BadTimestamp),
        }
    }

    /// The message, as JSON text.
    pub fn written(&self) -> Vec<u8> {
        let mut object: Map<String, Value> = self
            .extra
            .iter()
            .filter(|(name, _)| !["voter_id", "vote", "ts"].contains(&name.as_str()))
            .cloned()
            .collect();
        object.insert("voter_id".to_owned(), Value::String(self.voter_id.clone()));
        object.insert("vote".to_owned(), Value::String(self.vote.clone()));
        if let Some(ts) = &self.ts {
            object.insert("ts".to_owned(), ts.clone());
        }
        if self.pretty {
            serde_json::to_vec_pretty(&object)
        } else {
            serde_json::to_vec(&object)
        }
        .expect("a JSON value always serialises")
    }

    /// Taken with exactly these parts, or refused for the fault they have.
    pub fn check(&self) {
        let message = self.written();
        let parsed = Ballot::from_queue(&message);
        let text = String::from_utf8_lossy(&message);
        match self.fault() {
            None => {
                let ballot = parsed.unwrap_or_else(|err| panic!("{text} is refused: {err}"));
                assert_eq!(ballot.voter_id, self.voter_id, "{text}");
                assert_eq!(ballot.vote.as_str(), self.vote, "{text}");
                let ts = self.ts.as_ref().and_then(Value::as_i64).unwrap_or(0);
                assert_eq!(ballot.ts, ts, "{text}");
            }
            Some(fault) => assert_eq!(parsed, Err(fault), "{text}"),
        }
        check_any_message(&message);
    }
}

/// A `ts` that is a JSON number of any kind: integers of either sign, and fractions.
pub fn ts_value(integer: i128, fraction: Option<f64>) -> Value {
    match fraction {
        Some(fraction) => Number::from_f64(fraction).map_or(Value::Null, Value::Number),
        None => i64::try_from(integer)
            .map(Value::from)
            .or_else(|_| u64::try_from(integer).map(Value::from))
            .unwrap_or_else(|_| Value::from(integer as f64)),
    }
}
