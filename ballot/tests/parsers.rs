//! Property tests of the parsers of what voters and the queue send: the form and JSON bodies,
//! the `Cookie` headers, and the queue message the worker reads. The properties are the fuzz
//! targets' (`fuzz/src/`, docs/fuzzing.md), fed generated inputs here: proptest's default 256
//! cases per property (`PROPTEST_CASES` raises it), so the suite stays quick.

#[path = "../../fuzz/src/cookie.rs"]
mod cookie;
#[path = "../../fuzz/src/queue_message.rs"]
mod queue_message;
#[path = "../../fuzz/src/text.rs"]
mod text;
#[path = "../../fuzz/src/vote_body.rs"]
mod vote_body;

use ballot::{Ballot, MalformedBallot, VoteOption, VoterId};
use proptest::{prelude::*, test_runner::Config};
use serde_json::Value;

use cookie::CookieParts;
use queue_message::MessageParts;
use vote_body::BodyParts;

fn config() -> Config {
    Config {
        // A failure is kept as a test with its exact input, not in a file of seeds.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any bytes, or text that starts the way the parser expects.
fn bytes_after(prefixes: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(prefixes),
        prop_oneof![any::<Vec<u8>>(), "[ -~]{0,40}".prop_map(String::into_bytes),],
    )
        .prop_map(|(prefix, rest)| [prefix.as_bytes(), &rest].concat())
}

/// A voter id for a queue message: mostly valid (1 to 255 bytes without NUL), also empty, too
/// long, or with NUL.
fn queue_voter_id() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[^\u{0}]{1,80}",
        // Around the 255-byte limit, in one-byte and two-byte characters.
        2 => (250usize..=260).prop_map(|n| "x".repeat(n)),
        1 => (125usize..=130).prop_map(|n| "é".repeat(n)),
        1 => Just(String::new()),
        1 => "[a-z]{0,5}\u{0}[a-z]{0,5}",
        1 => any::<String>(),
    ]
}

fn option_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![Just("a".to_owned()), Just("b".to_owned())],
        1 => any::<String>(),
    ]
}

fn ts() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        6 => (0..=i64::MAX).prop_map(Value::from),
        1 => any::<i128>().prop_map(|ts| queue_message::ts_value(ts, None)),
        1 => any::<f64>().prop_map(|ts| queue_message::ts_value(0, Some(ts))),
        1 => Just(Value::Null),
        1 => any::<String>().prop_map(Value::from),
    ])
}

fn message_parts() -> impl Strategy<Value = MessageParts> {
    (
        queue_voter_id(),
        option_text(),
        ts(),
        prop::collection::vec(
            (any::<String>(), any::<String>().prop_map(Value::from)),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(voter_id, vote, ts, extra, pretty)| MessageParts {
            voter_id,
            vote,
            ts,
            extra,
            pretty,
        })
}

fn cookie_id() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        4 => "[0-9a-zA-Z_-]{0,70}",
        // Around the 64-character limit.
        2 => (62usize..=66).prop_map(|n| "a".repeat(n)),
        1 => any::<String>(),
    ])
}

fn cookie_parts() -> impl Strategy<Value = CookieParts> {
    let others = prop::collection::vec(("[a-zA-Z0-9_.-]{1,10}", any::<Vec<u8>>()), 0..3);
    (
        others.clone(),
        cookie_id(),
        prop::option::of(option_text()),
        others,
        any::<bool>(),
        prop::collection::vec(0usize..6, 0..3),
    )
        .prop_map(
            |(before, voter_id, vote, after, quoted, splits)| CookieParts {
                before,
                after,
                voter_id,
                vote,
                quoted,
                splits,
            },
        )
}

fn body_parts() -> impl Strategy<Value = BodyParts> {
    (
        prop::collection::vec(option_text(), 0..3),
        prop::collection::vec(
            (
                prop_oneof![Just("voter_id".to_owned()), any::<String>()],
                any::<String>(),
            ),
            0..3,
        ),
        any::<usize>(),
    )
        .prop_map(|(votes, others, at)| BodyParts { votes, others, at })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_queue_message_is_taken_or_refused_by_the_rules(
        message in bytes_after(&["", "{", r#"{"voter_id":"#, r#"{"voter_id":"x","vote":"a","ts":"#]),
    ) {
        queue_message::check_any_message(&message);
    }

    #[test]
    fn queue_messages_written_from_parts_are_read_as_those_parts(parts in message_parts()) {
        parts.check();
    }

    #[test]
    fn a_ballot_the_vote_service_queues_is_taken_back_as_it_is(
        id in "[0-9a-f]{32}",
        option in prop::sample::select(&VoteOption::ALL[..]),
    ) {
        let voter = VoterId::parse(&id).expect("32 hex digits are a voter id");
        let ballot = Ballot::new(voter, option);
        prop_assert_eq!(Ballot::from_queue(ballot.to_json().as_bytes()), Ok(ballot));
    }

    #[test]
    fn any_cookie_headers_give_a_valid_voter_id_or_none(
        headers in prop::collection::vec(
            bytes_after(&["", "voter_id=", "vote=", "a=b; voter_id="]),
            0..3,
        ),
    ) {
        let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        cookie::check_any_headers(&headers);
    }

    #[test]
    fn cookies_written_from_parts_give_their_voter_id_when_it_has_the_shape(
        parts in cookie_parts(),
    ) {
        parts.check();
    }

    #[test]
    fn any_form_body_is_read_by_its_vote_fields(body in bytes_after(&["", "vote=", "voter_id=x&vote="])) {
        vote_body::check_any_form(&body);
    }

    #[test]
    fn any_json_body_is_read_by_its_vote_members(
        body in bytes_after(&["", "{", r#"{"vote":"#, "[", r#"{"voter_id":"x","vote":"#]),
    ) {
        vote_body::check_any_json(&body);
    }

    #[test]
    fn bodies_written_from_parts_are_read_as_their_vote_fields(parts in body_parts()) {
        parts.check();
    }

    #[test]
    fn invalid_queue_messages_name_their_fault(
        id in "[a-z]{1,10}",
        fault in prop::sample::select(&[
            (r#"{"voter_id":"","vote":"a"}"#, "voter_id"),
            (r#"{"voter_id":"{id}","vote":"c"}"#, "vote"),
            (r#"{"voter_id":"{id}","vote":"a","ts":-5}"#, "ts"),
            (r#"{"voter_id":"{id}","vote":"a","ts":"5"}"#, "ts"),
            (r#"["{id}","a"]"#, "JSON"),
        ][..]),
    ) {
        let (template, named) = fault;
        let message = template.replace("{id}", &id);
        let err = Ballot::from_queue(message.as_bytes()).expect_err(&message);
        prop_assert!(err.to_string().contains(named), "{}: {}", message, err);
        prop_assert!(!matches!(err, MalformedBallot::NotJson(_)) || named == "JSON");
    }
}

/// Found by the fuzz target `vote_body`: serde read the JSON body's struct from an array, so
/// that `["a"]` was a vote and `["("]` an unknown option.
#[test]
fn a_json_body_that_is_an_array_is_unreadable() {
    for body in [&br#"["("]"#[..], br#"["a"]"#, br#" ["b"]"#] {
        vote_body::check_any_json(body);
        assert!(
            matches!(
                ballot::request::vote_from_json(body),
                Err(ballot::request::BadBody::Unreadable(_))
            ),
            "{body:?}"
        );
    }
    vote_body::check_any_json(b" \n{\"vote\":\"a\"}");
}
