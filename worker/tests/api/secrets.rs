//! SPEC section 1: no password in any log line or error, in whatever form `DATABASE_URL` or
//! `REDIS_URL` carries it; `DATABASE_PASSWORD_FILE`.

use test_support::{
    LOCAL_REDIS, SECRET, assert_configuration_error, assert_password_never_logged,
    check_password_file, database_urls_with_a_password, free_port,
    invalid_database_urls_with_a_password,
};

use crate::{helpers::TestQueue, tls::spawn_worker};

#[tokio::test]
async fn no_form_of_password_is_logged() {
    let queue = TestQueue::create().await;
    for url in database_urls_with_a_password() {
        let mut worker = spawn_worker(LOCAL_REDIS, &url, &queue.name, &[]);
        assert_password_never_logged(&mut worker, "DATABASE_URL").await;
    }
    let database = crate::helpers::TestDatabase::create().await;
    for redis_url in [
        format!("redis://:{SECRET}@127.0.0.1:{}/0", free_port()),
        format!("redis://worker:{SECRET}@127.0.0.1:{}/0", free_port()),
    ] {
        let mut worker = spawn_worker(&redis_url, &database.url(), &queue.name, &[]);
        assert_password_never_logged(&mut worker, "REDIS_URL").await;
    }
}

#[tokio::test]
async fn a_refused_database_url_is_not_repeated() {
    for url in invalid_database_urls_with_a_password() {
        assert_configuration_error(
            spawn_worker(LOCAL_REDIS, &url, "unused", &[]),
            "DATABASE_URL",
        )
        .await;
    }
}

#[tokio::test]
async fn the_password_file_is_used_instead_of_the_urls_password() {
    let queue = TestQueue::create().await;
    check_password_file(|url, file| {
        let file = file.map(|file| file.display().to_string());
        let env: Vec<(&str, &str)> = file
            .iter()
            .map(|file| ("DATABASE_PASSWORD_FILE", file.as_str()))
            .collect();
        spawn_worker(LOCAL_REDIS, url, &queue.name, &env)
    })
    .await;
}
