//! The response headers and error pages shared by the web programs (SPEC sections 3 and 5).

use actix_web::{
    FromRequest, Handler, HttpResponse, Resource, Responder, Route, guard,
    http::{StatusCode, header},
    middleware::DefaultHeaders,
    web,
};

/// Everything a page needs comes from the service itself; `connect-src 'self'` covers the
/// result page's WebSocket back to its own origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
    img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The headers of SPEC section 3 on every response. Pages add `Cache-Control` themselves.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
}

/// A small self-contained HTML page for an error status.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body><h1>{title}</h1><p>{message}</p>\
         <p><a href=\"/\">Back to the start page</a></p></body></html>\n",
        message = escape_html(message),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// The app's default service: unknown paths.
pub async fn not_found() -> HttpResponse {
    error_page(StatusCode::NOT_FOUND, "There is nothing at this address.")
}

/// The methods a path served by [`get`] answers.
pub const GET_AND_HEAD: &str = "GET, HEAD";

/// A resource's default service: a known path asked with a method it does not serve. RFC 9110
/// (section 15.5.6) asks a 405 to say which methods the path does serve.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut page = error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not accept that method.",
    );
    page.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    page
}

/// A route's resource whose other methods get the 405 page, naming the methods in `allow`
/// (as the `Allow` header spells them: `"GET, HEAD, POST"`), rather than an empty 405.
pub fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move { method_not_allowed(allow) }))
}

/// A path served only to GET (and HEAD, which `curl -I` and some monitors send; actix-http
/// leaves the body out of HEAD answers); other methods get the 405 page.
pub fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource(path, GET_AND_HEAD).route(get_or_head().to(handler))
}

/// A route for GET and HEAD.
pub fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The routes every program serves its operators: `/healthz`, `/readyz` (each program says
/// what ready means) and `/metrics`. Use as `App::configure(operator_routes(readyz))`.
pub fn operator_routes<F, Args>(readyz: F) -> impl FnOnce(&mut web::ServiceConfig)
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    move |config| {
        config
            .service(get("/healthz", crate::lifecycle::healthz))
            .service(get("/readyz", readyz))
            .service(get("/metrics", crate::metrics::metrics_endpoint));
    }
}

/// Escapes the five characters that matter in HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(ch),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }
}
