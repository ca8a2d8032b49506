//! SPEC section 1: libpq's `sslmode` and `sslrootcert`, as the worker reads them too. The
//! test's own certificate authority is unknown to the system's roots.

use test_support::{OwnPostgres, PostgresSetup, TestAuthority, tls_cases};

use crate::helpers::spawn_binary;

#[actix_web::test]
async fn every_sslmode_behaves_as_libpqs() {
    let authority = TestAuthority::make();
    let tls = OwnPostgres::start(PostgresSetup {
        tls: Some(&authority),
        ..PostgresSetup::default()
    });
    let plain = OwnPostgres::start(PostgresSetup::default());

    for case in tls_cases(&tls, &plain, &authority) {
        case.check(spawn_binary(&case.url, &[])).await;
    }
}
