//! The voter's two cookies (SPEC section 3) as a request's `Cookie` headers carry them:
//! `voter_id`, the identity, and `vote`, which remembers the current choice so the page can
//! mark it. Setting them, with their flags, is the web service's part.

use percent_encoding::percent_decode;

use crate::{VoteOption, VoterId};

pub const VOTER_ID_COOKIE: &str = "voter_id";
pub const VOTE_COOKIE: &str = "vote";

/// What a request's cookies say of the voter. A cookie that is missing or malformed reads as
/// `None`: the voter is then new (a fresh id is made) or has no choice marked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoterCookies {
    pub voter_id: Option<VoterId>,
    pub vote: Option<VoteOption>,
}

impl VoterCookies {
    /// Reads the values of a request's `Cookie` headers, as received.
    pub fn parse(headers: &[&[u8]]) -> VoterCookies {
        VoterCookies {
            voter_id: value(headers, VOTER_ID_COOKIE).and_then(|id| VoterId::parse(&id)),
            vote: value(headers, VOTE_COOKIE).and_then(|vote| VoteOption::parse(&vote)),
        }
    }
}

/// The value of the first cookie called `name` in the values of a request's `Cookie` headers.
///
/// Each `name=value` pair is read on its own: a byte that is not UTF-8 spoils only the pair
/// it is in, and so does any other fault, where a parser of the whole header would drop every
/// cookie of it, and with them the voter's identity (a browser sends whatever another site on
/// the domain stored). Names and values are trimmed, lose one pair of surrounding double
/// quotes, and are percent-decoded, as actix-web's cookie parser does.
pub fn value(headers: &[&[u8]], name: &str) -> Option<String> {
    headers
        .iter()
        .flat_map(|header| header.split(|&byte| byte == b';'))
        .filter_map(pair)
        .find(|(pair_name, _)| pair_name == name)
        .map(|(_, value)| value)
}

/// One `name=value` pair, decoded; None when it has no `=`, no name, or a name or value that
/// is not UTF-8 once decoded.
fn pair(bytes: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let (name, value) = text.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = trim_quotes(value.trim()).trim();
    let decode = |part: &str| {
        percent_decode(part.as_bytes())
            .decode_utf8()
            .ok()
            .map(|decoded| decoded.into_owned())
    };
    Some((decode(name)?, decode(value)?))
}

/// `"value"` → `value`; anything else as it is.
fn trim_quotes(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_cookie_of_that_name_across_headers() {
        let headers: [&[u8]; 2] = [b"theme=dark; voter_id=me-1", b"voter_id=me-2; vote=b"];
        assert_eq!(value(&headers, "voter_id").as_deref(), Some("me-1"));
        assert_eq!(value(&headers, "vote").as_deref(), Some("b"));
        assert_eq!(value(&headers, "missing"), None);
        assert_eq!(
            VoterCookies::parse(&headers),
            VoterCookies {
                voter_id: VoterId::parse("me-1"),
                vote: Some(VoteOption::B),
            }
        );
    }

    #[test]
    fn a_byte_that_is_not_utf8_spoils_only_its_own_pair() {
        let headers: [&[u8]; 1] = [b"theme=caf\xe9; voter_id=me-456; vote=a"];
        let cookies = VoterCookies::parse(&headers);
        assert_eq!(cookies.voter_id, VoterId::parse("me-456"));
        assert_eq!(cookies.vote, Some(VoteOption::A));
    }

    #[test]
    fn values_are_trimmed_unquoted_and_percent_decoded() {
        let headers: [&[u8]; 1] = [b"  voter_id = \"me%2D7\" ;vote=%61"];
        assert_eq!(value(&headers, "voter_id").as_deref(), Some("me-7"));
        assert_eq!(value(&headers, "vote").as_deref(), Some("a"));
        // Percent-decoding that yields no UTF-8 spoils the pair, not the header.
        let headers: [&[u8]; 1] = [b"voter_id=%ff; vote=b"];
        assert_eq!(VoterCookies::parse(&headers).voter_id, None);
        assert_eq!(VoterCookies::parse(&headers).vote, Some(VoteOption::B));
    }

    #[test]
    fn malformed_ids_and_options_read_as_none() {
        let long = format!("voter_id={}; vote=c", "x".repeat(65));
        let headers: [&[u8]; 3] = [long.as_bytes(), b"=no-name", b"novalue"];
        assert_eq!(VoterCookies::parse(&headers), VoterCookies::default());
        assert_eq!(VoterCookies::parse(&[]), VoterCookies::default());
    }
}
