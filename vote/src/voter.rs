//! Voter identity (SPEC section 3) over HTTP: who the request's cookies say is voting, and the
//! cookies the answer sets. What the cookies hold, and how their values are read, is the
//! domain's ([`ballot::cookie`]).

use actix_web::{
    HttpRequest,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::header,
};
use ballot::{VoteOption, VoterId, cookie::VoterCookies};

/// Voters come back to the poll across workshop days; a year outlives any poll.
const COOKIE_LIFETIME: CookieDuration = CookieDuration::days(365);

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
        let headers: Vec<&[u8]> = req
            .headers()
            .get_all(header::COOKIE)
            .map(|value| value.as_bytes())
            .collect();
        let cookies = VoterCookies::parse(&headers);
        Voter {
            known: cookies.voter_id.is_some(),
            id: cookies.voter_id.unwrap_or_else(VoterId::generate),
            current_vote: cookies.vote,
        }
    }
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
