//! Voter identity (SPEC section 3): the `voter_id` cookie, and the `vote` cookie that
//! remembers the voter's current choice so the page can mark it.

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::header,
};
use service_kit::ballot::VoteOption;

pub const VOTER_ID_COOKIE: &str = "voter_id";
pub const VOTE_COOKIE: &str = "vote";

/// Voters come back to the poll across workshop days; a year outlives any poll.
const COOKIE_LIFETIME: CookieDuration = CookieDuration::days(365);

/// Bytes of randomness in a fresh voter id: 128 bits, unguessable.
const VOTER_ID_BYTES: usize = 16;

/// A voter id that is safe to store and echo: 1 to 64 characters of `[0-9a-zA-Z_-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterId(String);

impl VoterId {
    /// Accepts an incoming id only if it has the allowed shape.
    pub fn parse(value: &str) -> Option<VoterId> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        (1..=64)
            .contains(&value.len())
            .then_some(value)
            .filter(|value| value.chars().all(valid_char))
            .map(|value| VoterId(value.to_owned()))
    }

    /// 128 random bits from the operating system's CSPRNG, as lowercase hex.
    pub fn generate() -> VoterId {
        let mut bytes = [0u8; VOTER_ID_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        VoterId(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Who is voting, as the request tells.
pub struct Voter {
    pub id: VoterId,
    /// False when the request carried no valid id and one was made up: the cookie must be set.
    pub known: bool,
    /// The choice the `vote` cookie remembers.
    pub current_vote: Option<VoteOption>,
}

impl Voter {
    pub fn from_request(req: &HttpRequest) -> Voter {
        let known_id =
            request_cookie(req, VOTER_ID_COOKIE).and_then(|value| VoterId::parse(&value));
        let current_vote =
            request_cookie(req, VOTE_COOKIE).and_then(|value| VoteOption::parse(&value));
        Voter {
            known: known_id.is_some(),
            id: known_id.unwrap_or_else(VoterId::generate),
            current_vote,
        }
    }
}

/// The value of the first cookie called `name` in the request's `Cookie` headers.
///
/// Each cookie is read on its own: a byte that is not UTF-8 spoils only the cookie it is in,
/// where actix-web's `HttpRequest::cookie` drops every cookie of the header, and with them the
/// voter's identity (a browser sends whatever another site on the domain stored). Cookies are
/// percent-decoded, as actix-web does.
fn request_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .flat_map(|value| value.as_bytes().split(|&byte| byte == b';'))
        .filter_map(|pair| {
            let pair = String::from_utf8_lossy(pair);
            let cookie = Cookie::parse_encoded(pair.trim().to_owned()).ok()?;
            (cookie.name() == name).then(|| cookie.value().to_owned())
        })
        .next()
}

/// A cookie with the flags SPEC section 3 asks for. `Secure` when the request came over TLS,
/// directly or through a proxy that says so with `X-Forwarded-Proto: https`.
pub fn cookie(req: &HttpRequest, name: &'static str, value: String) -> Cookie<'static> {
    let secure = req.connection_info().scheme() == "https";
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(COOKIE_LIFETIME)
        .secure(secure)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::VoterId;

    #[test]
    fn accepts_only_the_allowed_shape() {
        assert!(VoterId::parse("abc-DEF_123").is_some());
        assert!(VoterId::parse(&"x".repeat(64)).is_some());
        assert!(VoterId::parse(&"x".repeat(65)).is_none());
        assert!(VoterId::parse("").is_none());
        assert!(VoterId::parse("a b").is_none());
        assert!(VoterId::parse("<script>").is_none());
        assert!(VoterId::parse("é").is_none());
    }

    #[test]
    fn generated_ids_are_128_bit_lowercase_hex_and_distinct() {
        let first = VoterId::generate();
        assert_eq!(first.as_str().len(), 32);
        assert!(
            first
                .as_str()
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_ne!(first, VoterId::generate());
        assert!(VoterId::parse(first.as_str()).is_some());
    }
}
