//! The handlers, and how each bad input is answered (SPEC section 3).

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::StatusCode, mime, web};
use ballot::{
    Ballot, VoteOption,
    cookie::{VOTE_COOKIE, VOTER_ID_COOKIE},
    request::{self, BadBody},
};
use serde::Serialize;
use service_kit::http::{self, error_page};

use crate::{
    configuration::Settings,
    page::{FAVICON, Pages, STYLESHEET},
    queue::{BallotQueue, QueueError},
    voter::{Voter, cookie},
};

/// SPEC section 3: a body over 4 KiB is refused with 413. A vote needs a few bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// What every handler shares, built once at start-up.
pub struct AppState {
    pub settings: Settings,
    pub pages: Pages,
    pub queue: BallotQueue,
}

/// Why a vote was not taken. The page and the API render the same reasons differently.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    #[error("{reason}")]
    BadRequest { status: StatusCode, reason: String },
    #[error("Your vote was not recorded: the vote queue is not answering. Please try again.")]
    NotRecorded(#[from] QueueError),
}

impl VoteError {
    fn bad_request(reason: impl Into<String>) -> VoteError {
        VoteError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            reason: reason.into(),
        }
    }

    fn unknown_option(settings: &Settings) -> VoteError {
        VoteError::bad_request(format!(
            "Unknown option: vote \"a\" for {} or \"b\" for {}.",
            settings.option_a, settings.option_b
        ))
    }

    fn too_large() -> VoteError {
        VoteError::BadRequest {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            VoteError::BadRequest { status, .. } => *status,
            VoteError::NotRecorded(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn page(&self) -> HttpResponse {
        error_page(self.status(), &self.to_string())
    }

    fn json(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .insert_header(("Cache-Control", "no-store"))
            .json(ErrorBody {
                error: self.to_string(),
            })
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

/// The two ways of voting: the page's form on `POST /` and the JSON of `POST /api/vote`.
#[derive(Clone, Copy)]
enum Channel {
    Form,
    Api,
}

impl Channel {
    /// Whether the request's content type is the one this channel reads, as actix-web's form
    /// and JSON extractors tell.
    fn accepts(self, req: &HttpRequest) -> bool {
        match self {
            Channel::Form => req
                .content_type()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded"),
            Channel::Api => matches!(
                req.mime_type(),
                Ok(Some(mime)) if mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON)
            ),
        }
    }

    fn unsupported(self) -> VoteError {
        let reason = match self {
            Channel::Form => "Send the vote as a form: application/x-www-form-urlencoded.",
            Channel::Api => "Send the vote as JSON: application/json.",
        };
        VoteError::BadRequest {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            reason: reason.into(),
        }
    }

    fn parse(self, body: &[u8]) -> Result<VoteOption, BadBody> {
        match self {
            Channel::Form => request::vote_from_form(body),
            Channel::Api => request::vote_from_json(body),
        }
    }

    fn unreadable(self, explanation: String) -> VoteError {
        match self {
            Channel::Form => VoteError::bad_request("The form needs one field: vote=a or vote=b."),
            Channel::Api => VoteError::bad_request(format!(
                "The body must be JSON like {{\"vote\":\"a\"}}: {explanation}"
            )),
        }
    }

    /// The option the request votes for: its content type, then its size, then what it says,
    /// each fault with the status of SPEC section 3.
    async fn read(
        self,
        req: &HttpRequest,
        body: web::Payload,
        settings: &Settings,
    ) -> Result<VoteOption, VoteError> {
        if !self.accepts(req) {
            return Err(self.unsupported());
        }
        let body = body
            .to_bytes_limited(MAX_BODY_BYTES)
            .await
            .map_err(|_| VoteError::too_large())?
            .map_err(|err| VoteError::bad_request(format!("The body could not be read: {err}")))?;
        self.parse(&body).map_err(|fault| match fault {
            BadBody::UnknownOption => VoteError::unknown_option(settings),
            BadBody::Unreadable(explanation) => self.unreadable(explanation),
        })
    }
}

/// `GET /`: the page, with the voter's current choice marked.
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let voter = Voter::from_request(&req);
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/html; charset=utf-8")
        // The page is per voter: no shared cache may keep it.
        .insert_header(("Cache-Control", "no-store"));
    if !voter.known {
        // A first visit (or a malformed cookie) gets its id now, so it is stable from here on.
        response.cookie(cookie(&req, VOTER_ID_COOKIE, voter.id.into_string()));
    }
    response.body(state.pages.index(&state.settings, voter.current_vote))
}

/// `POST /` from the page's form: records the vote, then `303` back to the page.
pub async fn vote_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
) -> HttpResponse {
    match record(&req, &state, Channel::Form, body).await {
        Ok(recorded) => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header(("Location", "/"));
            recorded.set_cookies(&req, &mut response);
            response.finish()
        }
        Err(err) => err.page(),
    }
}

#[derive(Serialize)]
struct VoteAccepted<'a> {
    voter_id: &'a str,
    vote: VoteOption,
}

/// `POST /api/vote`: records the vote, `202` with the voter id and the option.
pub async fn vote_api(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
) -> HttpResponse {
    match record(&req, &state, Channel::Api, body).await {
        Ok(recorded) => {
            let mut response = HttpResponse::Accepted();
            recorded.set_cookies(&req, &mut response);
            response.json(VoteAccepted {
                voter_id: &recorded.ballot.voter_id,
                vote: recorded.ballot.vote,
            })
        }
        Err(err) => err.json(),
    }
}

/// A vote Redis has acknowledged.
struct Recorded {
    ballot: Ballot,
}

impl Recorded {
    /// The voter id (new or confirmed) and the remembered choice.
    fn set_cookies(&self, req: &HttpRequest, response: &mut actix_web::HttpResponseBuilder) {
        response.cookie(cookie(req, VOTER_ID_COOKIE, self.ballot.voter_id.clone()));
        response.cookie(cookie(
            req,
            VOTE_COOKIE,
            self.ballot.vote.as_str().to_owned(),
        ));
    }
}

/// The path both ways of voting share: read the option, append the ballot, wait for Redis.
async fn record(
    req: &HttpRequest,
    state: &AppState,
    channel: Channel,
    body: web::Payload,
) -> Result<Recorded, VoteError> {
    let option = channel.read(req, body, &state.settings).await?;
    let voter = Voter::from_request(req);
    let ballot = Ballot::new(voter.id, option);
    state.queue.push(&ballot).await?;
    tracing::debug!(voter_id = %ballot.voter_id, vote = option.as_str(), "vote queued");
    Ok(Recorded { ballot })
}

/// `GET /static/vote.css`.
pub async fn stylesheet() -> HttpResponse {
    http::asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /favicon.svg` and `/favicon.ico` (browsers ask for the latter on their own).
pub async fn favicon() -> HttpResponse {
    http::asset("image/svg+xml", FAVICON)
}
