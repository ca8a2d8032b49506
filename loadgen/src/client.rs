//! HTTP to the vote service (posting votes) and to the result service (reading the tally).

use std::time::Duration;

use anyhow::Context;
use awc::{
    Client, Connector,
    error::{ConnectError, SendRequestError},
    http::StatusCode,
};
use ballot::{Tally, VoteOption};

use crate::settings::Endpoint;

/// A vote the service has not answered by then counts as failed. The vote service answers
/// 503 within 2 s when Redis does not (SPEC section 3), so this only catches a hung service.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response body read (and dropped) to keep a connection reusable; the vote
/// service's answers are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// Why a vote was not accepted, grouped for the report: the status, or the transport error.
pub type Failure = String;

/// What became of one vote, as far as the load generator can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `303` (form) or `202` (API): Redis acknowledged the vote.
    Accepted { status: u16 },
    /// The service said it did not record the vote (a 4xx, or 503), or no connection could be
    /// made, so nothing reached it.
    Refused {
        status: Option<u16>,
        failure: Failure,
    },
    /// No answer (a timeout, a connection broken after the request went out) or an answer
    /// that says neither: the vote may or may not have been recorded.
    Unknown {
        status: Option<u16>,
        failure: Failure,
    },
}

impl Answer {
    /// Sorts the service's answer `status`, when it is not the one expected.
    fn from_status(status: StatusCode) -> Answer {
        let failure = format!("HTTP {status}");
        let status_code = Some(status.as_u16());
        if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE {
            Answer::Refused {
                status: status_code,
                failure,
            }
        } else {
            Answer::Unknown {
                status: status_code,
                failure,
            }
        }
    }

    fn from_error(err: SendRequestError) -> Answer {
        let failure = err.to_string();
        match err {
            // Failures to make the connection, before a byte of the request is written. (awc
            // also reports a connection closed after the request went out as a connect error,
            // `Disconnected`: that one is unknown.)
            SendRequestError::Connect(
                ConnectError::Io(_)
                | ConnectError::Timeout
                | ConnectError::Resolver(_)
                | ConnectError::NoRecords
                | ConnectError::Unresolved,
            ) => Answer::Refused {
                status: None,
                failure,
            },
            _ => Answer::Unknown {
                status: None,
                failure,
            },
        }
    }
}

/// Posts votes to one vote service over a pool of kept-alive connections.
pub struct VoteClient {
    client: Client,
    url: String,
    endpoint: Endpoint,
}

impl VoteClient {
    /// `connections`: as many as there are requests in flight, so that none waits for one.
    pub fn new(vote_url: &str, endpoint: Endpoint, connections: usize) -> VoteClient {
        let path = match endpoint {
            Endpoint::Form => "/",
            Endpoint::Api => "/api/vote",
        };
        VoteClient {
            client: http_client(connections),
            url: format!("{}{path}", vote_url.trim_end_matches('/')),
            endpoint,
        }
    }

    /// Casts `option`, as the voter with id `voter_id`, or as a new voter when `None`.
    pub async fn vote(&self, option: VoteOption, voter_id: Option<&str>) -> Answer {
        let mut request = self.client.post(&self.url);
        if let Some(voter_id) = voter_id {
            request = request.insert_header(("Cookie", format!("voter_id={voter_id}")));
        }
        let (sent, accepted) = match self.endpoint {
            Endpoint::Form => (
                request
                    .content_type("application/x-www-form-urlencoded")
                    .send_body(format!("vote={}", option.as_str())),
                StatusCode::SEE_OTHER,
            ),
            Endpoint::Api => (
                request
                    .content_type("application/json")
                    .send_body(format!(r#"{{"vote":"{}"}}"#, option.as_str())),
                StatusCode::ACCEPTED,
            ),
        };
        let mut response = match sent.await {
            Ok(response) => response,
            Err(err) => return Answer::from_error(err),
        };
        // Reading the body to its end is what returns the connection to the pool.
        let _ = response.body().limit(MAX_BODY).await;
        if response.status() == accepted {
            Answer::Accepted {
                status: accepted.as_u16(),
            }
        } else {
            Answer::from_status(response.status())
        }
    }
}

/// Reads the result service's `/api/results`.
pub struct ResultClient {
    client: Client,
    url: String,
}

impl ResultClient {
    pub fn new(result_url: &str) -> ResultClient {
        ResultClient {
            client: http_client(1),
            url: format!("{}/api/results", result_url.trim_end_matches('/')),
        }
    }

    /// `GET /api/results`: `{"counts":{"a":1,"b":2},"total":3}`.
    pub async fn tally(&self) -> anyhow::Result<Tally> {
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("cannot reach {}", self.url))?;
        anyhow::ensure!(
            response.status().is_success(),
            "{} answered {}",
            self.url,
            response.status()
        );
        let body = response
            .body()
            .limit(MAX_BODY)
            .await
            .with_context(|| format!("reading the answer of {}", self.url))?;
        Tally::from_json(&body)
            .with_context(|| format!("{} did not answer the results JSON", self.url))
    }
}

fn http_client(connections: usize) -> Client {
    Client::builder()
        .connector(Connector::new().limit(connections))
        .timeout(REQUEST_TIMEOUT)
        // A form vote is answered 303 to the page; following it would double the load.
        .disable_redirects()
        .finish()
}
