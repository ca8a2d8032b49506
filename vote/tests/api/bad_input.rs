//! Each bad input gets a clear 4xx and nothing is queued.

use crate::helpers::{FORM, JSON, spawn_app};

#[actix_web::test]
async fn an_unknown_option_is_400() {
    let app = spawn_app().await;

    let form = app.vote_form("c", &[]).await;
    let api = app.vote_api(r#"{"vote":"A"}"#, &[]).await;

    assert_eq!(form.status, 400);
    assert!(form.body.contains("Unknown option"), "{}", form.body);
    assert_eq!(
        form.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(api.status, 400);
    let error: serde_json::Value = serde_json::from_str(&api.body).expect("a JSON error");
    assert!(error["error"].as_str().unwrap().contains("Unknown option"));
    assert!(app.queued().is_empty());
}

#[actix_web::test]
async fn a_missing_field_is_400() {
    let app = spawn_app().await;

    let empty_form = app.post("/", FORM, "", &[]).await;
    let other_field = app.post("/", FORM, "choice=a", &[]).await;
    let empty_object = app.vote_api("{}", &[]).await;
    let wrong_type = app.vote_api(r#"{"vote":1}"#, &[]).await;

    for reply in [&empty_form, &other_field, &empty_object, &wrong_type] {
        assert_eq!(reply.status, 400, "{}", reply.body);
    }
    assert!(app.queued().is_empty());
}

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;

    for body in [r#"{"vote":"a""#, "vote=a", "", "[]", "null"] {
        let reply = app.vote_api(body, &[]).await;
        assert_eq!(reply.status, 400, "{body:?}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    assert!(app.queued().is_empty());
}

#[actix_web::test]
async fn a_body_over_4_kib_is_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(4 * 1024);

    let form = app
        .post("/", FORM, format!("vote=a&pad={padding}"), &[])
        .await;
    let api = app
        .vote_api(&format!(r#"{{"vote":"a","pad":"{padding}"}}"#), &[])
        .await;

    assert_eq!(form.status, 413, "{}", form.body);
    assert_eq!(api.status, 413, "{}", api.body);
    // Exactly at the limit is still fine.
    let fits = format!("vote=a&pad={}", "x".repeat(4 * 1024 - "vote=a&pad=".len()));
    assert_eq!(app.post("/", FORM, fits, &[]).await.status, 303);
    assert_eq!(app.queued().len(), 1);
}

#[actix_web::test]
async fn a_content_type_other_than_the_forms_or_jsons_is_415() {
    let app = spawn_app().await;

    let json_to_form = app.post("/", JSON, r#"{"vote":"a"}"#, &[]).await;
    let text_to_form = app.post("/", "text/plain", "vote=a", &[]).await;
    let multipart_to_form = app
        .post(
            "/",
            "multipart/form-data; boundary=x",
            "--x\r\n--x--\r\n",
            &[],
        )
        .await;
    let form_to_api = app.post("/api/vote", FORM, "vote=a", &[]).await;
    let text_to_api = app
        .post("/api/vote", "text/plain", r#"{"vote":"a"}"#, &[])
        .await;

    for reply in [
        &json_to_form,
        &text_to_form,
        &multipart_to_form,
        &form_to_api,
        &text_to_api,
    ] {
        assert_eq!(reply.status, 415, "{}", reply.body);
    }
    assert!(app.queued().is_empty());
}

#[actix_web::test]
async fn unknown_paths_are_404_and_wrong_methods_405_each_with_a_page() {
    let app = spawn_app().await;

    let missing = app.get("/nowhere", &[]).await;
    let get_api = app.get("/api/vote", &[]).await;
    let delete_page = app
        .client
        .delete(app.url("/"))
        .send()
        .await
        .expect("the service answers");
    let delete_page = crate::helpers::read(delete_page).await;
    let post_health = app.post("/healthz", FORM, "", &[]).await;

    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("404 Not Found"));
    for (reply, allowed) in [
        (&get_api, "POST"),
        (&delete_page, "GET, HEAD, POST"),
        (&post_health, "GET, HEAD"),
    ] {
        assert_eq!(reply.status, 405);
        assert!(
            reply.body.contains("405 Method Not Allowed"),
            "{}",
            reply.body
        );
        // RFC 9110 section 15.5.6: a 405 names the methods the path does serve.
        assert_eq!(reply.header("allow"), Some(allowed));
    }
    assert!(app.queued().is_empty());
}
