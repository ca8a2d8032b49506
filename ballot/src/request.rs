//! The two bodies a voter sends (SPEC section 3): the page's form, `vote=a`, to `POST /`, and
//! the JSON `{"vote":"a"}` to `POST /api/vote`. Content type and size are the web service's to
//! check; this is what the body says. Identity is the cookie's: a `voter_id` in a body is
//! ignored, as is any other field.

use serde::Deserialize;

use crate::VoteOption;

/// Why a body is not a vote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadBody {
    /// Not the form or JSON object asked for, or without its `vote` field; the parser's
    /// explanation.
    #[error("{0}")]
    Unreadable(String),
    /// A `vote` that is neither `a` nor `b`.
    #[error("unknown option")]
    UnknownOption,
}

#[derive(Deserialize)]
struct VoteBody {
    vote: String,
}

impl VoteBody {
    fn option(&self) -> Result<VoteOption, BadBody> {
        VoteOption::parse(&self.vote).ok_or(BadBody::UnknownOption)
    }
}

/// The option an `application/x-www-form-urlencoded` body votes for.
pub fn vote_from_form(body: &[u8]) -> Result<VoteOption, BadBody> {
    serde_urlencoded::from_bytes::<VoteBody>(body)
        .map_err(|err| BadBody::Unreadable(err.to_string()))?
        .option()
}

/// The option a JSON body votes for.
pub fn vote_from_json(body: &[u8]) -> Result<VoteOption, BadBody> {
    // serde reads a struct from an array too (`["a"]`); the body is an object. JSON's
    // whitespace is a subset of ASCII's, and anything else before the `{` is an error anyway.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(BadBody::Unreadable(
            "expected a JSON object like {\"vote\":\"a\"}".to_owned(),
        ));
    }
    serde_json::from_slice::<VoteBody>(body)
        .map_err(|err| BadBody::Unreadable(err.to_string()))?
        .option()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_names_its_option() {
        assert_eq!(vote_from_form(b"vote=a"), Ok(VoteOption::A));
        assert_eq!(vote_from_form(b"voter_id=x&vote=b"), Ok(VoteOption::B));
        assert_eq!(vote_from_form(b"vote=%62"), Ok(VoteOption::B));
        assert_eq!(vote_from_form(b"vote=c"), Err(BadBody::UnknownOption));
        assert_eq!(vote_from_form(b"vote=A"), Err(BadBody::UnknownOption));
        // A field without a value is an empty one.
        assert_eq!(vote_from_form(b"vote"), Err(BadBody::UnknownOption));
        for unreadable in [&b""[..], b"choice=a", b"vote=a&vote=b"] {
            assert!(
                matches!(vote_from_form(unreadable), Err(BadBody::Unreadable(_))),
                "{unreadable:?}"
            );
        }
    }

    #[test]
    fn a_json_body_names_its_option_and_its_voter_id_is_ignored() {
        assert_eq!(vote_from_json(br#"{"vote":"a"}"#), Ok(VoteOption::A));
        assert_eq!(
            vote_from_json(br#"{"vote":"b","voter_id":"someone-else"}"#),
            Ok(VoteOption::B)
        );
        assert_eq!(
            vote_from_json(br#"{"vote":"c"}"#),
            Err(BadBody::UnknownOption)
        );
        for unreadable in [&b""[..], b"{", b"{}", br#"{"vote":1}"#, b"vote=a"] {
            assert!(
                matches!(vote_from_json(unreadable), Err(BadBody::Unreadable(_))),
                "{unreadable:?}"
            );
        }
    }
}
