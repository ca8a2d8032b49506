//! SPEC section 1: a `rediss://` URL connects over TLS with rustls and the system's roots.
//! The test's own certificate authority stands in for the system's through `SSL_CERT_FILE`,
//! set on the vote process only, so nothing is trusted that production would not.

use test_support::{OwnRedis, TestAuthority};

use crate::process::VoteProcess;

#[test]
fn votes_reach_a_redis_that_speaks_only_tls() {
    let authority = TestAuthority::make();
    let redis = OwnRedis::start_tls(&authority);
    let vote = VoteProcess::start(&[
        ("REDIS_URL", &redis.url()),
        ("SSL_CERT_FILE", &authority.ca_file()),
    ]);

    let status = vote.request("POST", "/", "vote=a");

    assert_eq!(status, 303, "the vote went through TLS");
}

#[test]
fn a_redis_certificate_the_system_does_not_trust_is_refused() {
    let authority = TestAuthority::make();
    let redis = OwnRedis::start_tls(&authority);
    // No SSL_CERT_FILE: the test CA is not among the system's roots.
    let vote = VoteProcess::start(&[("REDIS_URL", &redis.url())]);

    let status = vote.request("POST", "/", "vote=a");

    assert_eq!(status, 503);
}
