//! SPEC section 1: no password in any log line or error, in whatever form `DATABASE_URL`
//! carries it; `DATABASE_PASSWORD_FILE`.

use test_support::{
    assert_configuration_error, assert_password_never_logged, check_password_file,
    database_urls_with_a_password, invalid_database_urls_with_a_password,
};

use crate::helpers::spawn_binary;

#[actix_web::test]
async fn no_form_of_password_is_logged() {
    for url in database_urls_with_a_password() {
        let mut result = spawn_binary(&url, &[]);
        assert_password_never_logged(&mut result, "DATABASE_URL").await;
    }
}

#[actix_web::test]
async fn a_refused_database_url_is_not_repeated() {
    for url in invalid_database_urls_with_a_password() {
        assert_configuration_error(spawn_binary(&url, &[]), "DATABASE_URL").await;
    }
}

#[actix_web::test]
async fn the_password_file_is_used_instead_of_the_urls_password() {
    check_password_file(|url, file| match file {
        Some(file) => spawn_binary(
            url,
            &[("DATABASE_PASSWORD_FILE", &file.display().to_string())],
        ),
        None => spawn_binary(url, &[]),
    })
    .await;
}
