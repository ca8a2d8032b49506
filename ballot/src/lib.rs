//! The voting app's domain, shared by the vote service, the worker, the result service and the
//! load generator, and free of any web framework or database client, so that a tool or a
//! fuzz target can use it without a server.
//!
//! - [`VoteOption`]: `a` or `b`; the labels are configuration.
//! - [`VoterId`]: the `voter_id` cookie's value, and the [`cookie`] parsing it comes out of.
//! - [`request`]: the two bodies a voter sends, the form and the JSON of `/api/vote`.
//! - [`Ballot`]: the queue message of SPEC section 2, and why a message is not one.
//! - [`Tally`]: the counts per option, the result frame of SPEC section 5 and how it is shown.
//!
//! Every parser takes untrusted bytes and never panics: each returns the value or says why not.

pub mod cookie;
mod message;
mod option;
pub mod request;
mod tally;
mod voter;

pub use message::{Ballot, MAX_VOTER_ID_BYTES, MalformedBallot, now_millis};
pub use option::VoteOption;
pub use tally::Tally;
pub use voter::VoterId;
