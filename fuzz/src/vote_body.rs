//! The two bodies a voter sends (`ballot::request`): the form of `POST /` and the JSON of
//! `POST /api/vote`. What parsing them must do with any bytes, by SPEC section 3.
//!
//! - A form is a vote for `a` or `b` exactly when it has one `vote` field with that value;
//!   one `vote` field with any other value is an unknown option; none or several, unreadable.
//!   Other fields (a `voter_id` among them) change nothing.
//! - A JSON body likewise, when it is an object; anything else is unreadable.
//! - A body written from known parts ([`BodyParts`]) is read as those parts say.
//!
//! The fuzz target `vote_body` and ballot's property tests (`tests/parsers.rs`) both check
//! these.

use std::fmt;

use ballot::{
    VoteOption,
    request::{BadBody, vote_from_form, vote_from_json},
};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// What a body's `vote` fields say should come of it.
fn expected(votes: &[String]) -> Result<VoteOption, BadBody> {
    match votes {
        [vote] => VoteOption::parse(vote).ok_or(BadBody::UnknownOption),
        _ => Err(BadBody::Unreadable(String::new())),
    }
}

fn assert_same(
    parsed: &Result<VoteOption, BadBody>,
    expected: &Result<VoteOption, BadBody>,
    body: &[u8],
) {
    let same = match (parsed, expected) {
        (Err(BadBody::Unreadable(_)), Err(BadBody::Unreadable(_))) => true,
        (parsed, expected) => parsed == expected,
    };
    assert!(
        same,
        "{:?} gives {parsed:?}, should give {expected:?}",
        String::from_utf8_lossy(body)
    );
}

/// Any bytes as a form body.
pub fn check_any_form(body: &[u8]) {
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).expect("any bytes read as form fields");
    let votes: Vec<String> = fields
        .into_iter()
        .filter(|(name, _)| name == "vote")
        .map(|(_, value)| value)
        .collect();
    assert_same(&vote_from_form(body), &expected(&votes), body);
}

/// The `vote` members of a JSON object, in order, duplicates kept; `None` when the text is not
/// a JSON object.
struct VoteMembers(Vec<Option<String>>);

impl<'de> Deserialize<'de> for VoteMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = VoteMembers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VoteMembers, A::Error> {
                let mut votes = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "vote" {
                        // Not a string: `None`, which makes the body unreadable.
                        votes.push(
                            map.next_value::<serde_json::Value>()?
                                .as_str()
                                .map(str::to_owned),
                        );
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(VoteMembers(votes))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Any bytes as a JSON body.
pub fn check_any_json(body: &[u8]) {
    let expected = match serde_json::from_slice::<VoteMembers>(body) {
        Ok(VoteMembers(votes)) => match votes.into_iter().collect::<Option<Vec<String>>>() {
            Some(votes) => expected(&votes),
            None => Err(BadBody::Unreadable(String::new())),
        },
        Err(_) => Err(BadBody::Unreadable(String::new())),
    };
    assert_same(&vote_from_json(body), &expected, body);
}

/// A body from known parts.
#[derive(Debug, Clone)]
pub struct BodyParts {
    /// The values of the `vote` fields, usually one.
    pub votes: Vec<String>,
    /// Other fields; those named `vote` are left out.
    pub others: Vec<(String, String)>,
    /// Where among the other fields the votes go.
    pub at: usize,
}

impl BodyParts {
    fn fields(&self) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = self
            .others
            .iter()
            .filter(|(name, _)| name != "vote")
            .cloned()
            .collect();
        let at = self.at % (fields.len() + 1);
        let votes = self
            .votes
            .iter()
            .map(|vote| ("vote".to_owned(), vote.clone()));
        fields.splice(at..at, votes);
        fields
    }

    /// As a form: every field encoded as browsers do.
    pub fn form(&self) -> Vec<u8> {
        serde_urlencoded::to_string(self.fields())
            .expect("string pairs always encode")
            .into_bytes()
    }

    /// As a JSON object, members in that order (duplicates kept).
    pub fn json(&self) -> Vec<u8> {
        let members: Vec<String> = self
            .fields()
            .iter()
            .map(|(name, value)| {
                let text = |s: &str| serde_json::to_string(s).expect("a string always serialises");
                format!("{}:{}", text(name), text(value))
            })
            .collect();
        format!("{{{}}}", members.join(",")).into_bytes()
    }

    /// Both bodies are read as the `vote` fields say.
    pub fn check(&self) {
        let expected = expected(&self.votes);
        let form = self.form();
        assert_same(&vote_from_form(&form), &expected, &form);
        check_any_form(&form);
        let json = self.json();
        assert_same(&vote_from_json(&json), &expected, &json);
        check_any_json(&json);
    }
}
