//! SPEC section 1: libpq's `sslmode` and `sslrootcert`, as the worker reads them too. The
//! test's own certificate authority is unknown to the system's roots.

use crate::helpers::spawn_binary;

#[actix_web::test]
async fn every_sslmode_behaves_as_libpqs() {
    test_support::check_every_sslmode(|url| spawn_binary(url, &[])).await;
}
