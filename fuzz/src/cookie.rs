//! The voter's cookies (`ballot::cookie`), read from a request's `Cookie` headers: what the
//! reading must do with any bytes, by SPEC section 3.
//!
//! - An accepted voter id is 1 to 64 characters of `[0-9a-zA-Z_-]`; anything else reads as no
//!   id (and the vote service makes a fresh one). A remembered vote is `a` or `b`.
//! - A header written from known parts ([`CookieParts`]): the first `voter_id` cookie's value
//!   is the id exactly when it has that shape, whatever other cookies (malformed, not UTF-8)
//!   stand around it and however the headers are split.
//!
//! The fuzz target `cookie` and ballot's property tests (`tests/parsers.rs`) both check these.

use ballot::{
    VoteOption, VoterId,
    cookie::{VOTE_COOKIE, VOTER_ID_COOKIE, VoterCookies, value},
};

/// SPEC section 3's shape of a voter id.
fn has_voter_id_shape(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Any values of `Cookie` headers.
pub fn check_any_headers(headers: &[&[u8]]) {
    let cookies = VoterCookies::parse(headers);
    let first_id = value(headers, VOTER_ID_COOKIE);
    match &cookies.voter_id {
        Some(id) => {
            assert!(has_voter_id_shape(id.as_str()), "{id:?} from {headers:?}");
            assert_eq!(first_id.as_deref(), Some(id.as_str()), "{headers:?}");
        }
        None => assert!(
            !first_id.as_deref().is_some_and(has_voter_id_shape),
            "the voter id {first_id:?} of {headers:?} is refused"
        ),
    }
    let first_vote = value(headers, VOTE_COOKIE);
    assert_eq!(
        cookies.vote,
        first_vote.as_deref().and_then(VoteOption::parse),
        "{headers:?}"
    );
}

/// The cookies of a request, from known parts.
#[derive(Debug, Clone)]
pub struct CookieParts {
    /// Other cookies before and after the voter's: a name of token characters (never one of
    /// the voter's two) and any bytes but `;` as the value, UTF-8 or not.
    pub before: Vec<(String, Vec<u8>)>,
    pub after: Vec<(String, Vec<u8>)>,
    /// The `voter_id` cookie's value, any text (written percent-encoded); `None`: no such
    /// cookie.
    pub voter_id: Option<String>,
    /// The `vote` cookie's value, any text.
    pub vote: Option<String>,
    /// Written in double quotes, as some clients do.
    pub quoted: bool,
    /// Where the pairs are split into separate `Cookie` headers (indices into the pairs).
    pub splits: Vec<usize>,
}

impl CookieParts {
    fn other_pair(name: &str, value: &[u8]) -> Option<Vec<u8>> {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$&'*+.^_`|~-".contains(&b);
        let usable = !name.is_empty()
            && name.bytes().all(token)
            && name != VOTER_ID_COOKIE
            && name != VOTE_COOKIE;
        usable.then(|| {
            let mut pair = format!("{name}=").into_bytes();
            pair.extend(value.iter().filter(|&&b| b != b';'));
            pair
        })
    }

    /// The headers' values.
    pub fn written(&self) -> Vec<Vec<u8>> {
        let quote = if self.quoted { "\"" } else { "" };
        let own = [(VOTER_ID_COOKIE, &self.voter_id), (VOTE_COOKIE, &self.vote)]
            .into_iter()
            .filter_map(|(name, value)| {
                let value = value.as_ref()?;
                Some(format!("{name}={quote}{}{quote}", crate::text::encoded(value)).into_bytes())
            });
        let pairs: Vec<Vec<u8>> = self
            .before
            .iter()
            .filter_map(|(name, value)| Self::other_pair(name, value))
            .chain(own)
            .chain(
                self.after
                    .iter()
                    .filter_map(|(name, value)| Self::other_pair(name, value)),
            )
            .collect();
        let mut headers = vec![Vec::new()];
        for (i, pair) in pairs.into_iter().enumerate() {
            let header = headers.last_mut().expect("there is always a header");
            if !header.is_empty() {
                header.extend_from_slice(b"; ");
            }
            header.extend(pair);
            if self.splits.contains(&i) {
                headers.push(Vec::new());
            }
        }
        headers
    }

    /// The voter id is this one exactly when it has the shape; the vote exactly when it is
    /// `a` or `b`.
    pub fn check(&self) {
        let written = self.written();
        let headers: Vec<&[u8]> = written.iter().map(Vec::as_slice).collect();
        let cookies = VoterCookies::parse(&headers);
        let expected_id = self.voter_id.as_deref().filter(|id| has_voter_id_shape(id));
        assert_eq!(
            cookies.voter_id.as_ref().map(VoterId::as_str),
            expected_id,
            "{headers:?}"
        );
        let expected_vote = self.vote.as_deref().and_then(VoteOption::parse);
        assert_eq!(cookies.vote, expected_vote, "{headers:?}");
        check_any_headers(&headers);
    }
}
