//! The handlers, and how each bad input is answered (SPEC section 3).

use actix_web::{
    Error, HttpRequest, HttpResponse, ResponseError,
    error::{InternalError, JsonPayloadError, UrlencodedError},
    http::StatusCode,
    web,
};
use serde::{Deserialize, Serialize};
use service_kit::{
    ballot::{Ballot, VoteOption},
    http::error_page,
};

use crate::{
    page::{FAVICON, Pages, STYLESHEET},
    queue::{BallotQueue, QueueError},
    settings::Settings,
    voter::{VOTE_COOKIE, VOTER_ID_COOKIE, Voter, cookie},
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

    /// The form extractor's errors, with the statuses of SPEC section 3.
    fn from_form(err: &UrlencodedError) -> VoteError {
        match err {
            UrlencodedError::Overflow { .. } => VoteError::too_large(),
            UrlencodedError::ContentType => VoteError::BadRequest {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                reason: "Send the vote as a form: application/x-www-form-urlencoded.".into(),
            },
            UrlencodedError::Payload(payload)
                if payload.status_code() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                VoteError::too_large()
            }
            UrlencodedError::Parse(_) => {
                VoteError::bad_request("The form needs one field: vote=a or vote=b.")
            }
            other => VoteError::bad_request(format!("The form could not be read: {other}")),
        }
    }

    /// The JSON extractor's errors, with the statuses of SPEC section 3.
    fn from_json(err: &JsonPayloadError) -> VoteError {
        match err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                VoteError::too_large()
            }
            JsonPayloadError::ContentType => VoteError::BadRequest {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                reason: "Send the vote as JSON: application/json.".into(),
            },
            JsonPayloadError::Payload(payload)
                if payload.status_code() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                VoteError::too_large()
            }
            JsonPayloadError::Deserialize(err) => VoteError::bad_request(format!(
                "The body must be JSON like {{\"vote\":\"a\"}}: {err}"
            )),
            other => VoteError::bad_request(format!("The body could not be read: {other}")),
        }
    }

    fn too_large() -> VoteError {
        VoteError::BadRequest {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

/// Limits and error answers for the form of `POST /`.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| {
            let response = VoteError::from_form(&err).page();
            Error::from(InternalError::from_response(err, response))
        })
}

/// Limits and error answers for the JSON of `POST /api/vote`.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| {
            let response = VoteError::from_json(&err).json();
            Error::from(InternalError::from_response(err, response))
        })
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

#[derive(Deserialize)]
pub struct VoteForm {
    vote: String,
}

/// `POST /` from the page's form: records the vote, then `303` back to the page.
pub async fn vote_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<VoteForm>,
) -> HttpResponse {
    match record(&req, &state, &form.vote).await {
        Ok(recorded) => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header(("Location", "/"));
            recorded.set_cookies(&req, &mut response);
            response.finish()
        }
        Err(err) => err.page(),
    }
}

/// The JSON body of `POST /api/vote`. Any `voter_id` in it is ignored: identity is the cookie's.
#[derive(Deserialize)]
pub struct VoteRequest {
    vote: String,
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
    body: web::Json<VoteRequest>,
) -> HttpResponse {
    match record(&req, &state, &body.vote).await {
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

/// The path both ways of voting share: parse the option, append the ballot, wait for Redis.
async fn record(req: &HttpRequest, state: &AppState, vote: &str) -> Result<Recorded, VoteError> {
    let option =
        VoteOption::parse(vote).ok_or_else(|| VoteError::unknown_option(&state.settings))?;
    let voter = Voter::from_request(req);
    let ballot = Ballot::new(voter.id.into_string(), option);
    state.queue.push(&ballot).await?;
    tracing::debug!(voter_id = %ballot.voter_id, vote = option.as_str(), "vote queued");
    Ok(Recorded { ballot })
}

/// `GET /static/vote.css`.
pub async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /favicon.svg` and `/favicon.ico` (browsers ask for the latter on their own).
pub async fn favicon() -> HttpResponse {
    asset("image/svg+xml", FAVICON)
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        // The page links assets with `?v=<version>`, so a new version fetches them anew.
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body)
}
