//! The response headers, error pages, page templates and assets shared by the web programs
//! (SPEC sections 3 and 5), and the helpers that route them.

use std::sync::LazyLock;

use actix_web::{
    FromRequest, Handler, HttpResponse, Resource, Responder, Route, guard,
    http::{StatusCode, header},
    middleware::DefaultHeaders,
    web,
};
use tera::{Context, Tera};

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

/// A page template, parsed once, with Tera's HTML escaping on for every value it inserts
/// whatever the template's name: labels come from the environment, messages from requests.
pub fn page_template(name: &'static str, source: &str) -> Result<Tera, tera::Error> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![name]);
    tera.add_raw_template(name, source)?;
    Ok(tera)
}

const ERROR_TEMPLATE: &str = "error.html";

/// The error page, parsed at its first use.
static ERROR_PAGE: LazyLock<Tera> = LazyLock::new(|| {
    page_template(ERROR_TEMPLATE, include_str!("../templates/error.html"))
        .expect("the error page template is valid: any test of an error page proves so")
});

/// A small self-contained HTML page for an error status.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let mut context = Context::new();
    context.insert(
        "title",
        &format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        ),
    );
    context.insert("message", message);
    let body = ERROR_PAGE
        .render(ERROR_TEMPLATE, &context)
        .expect("the context holds every variable the template uses");
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// Pages link their assets with `?v=<version>`, so a new version fetches them anew; the short
/// lifetime bounds how long a rebuild under the same version shows the old ones.
const ASSET_CACHE: &str = "public, max-age=300";

/// A stylesheet, script or icon compiled into the binary: nothing comes from a CDN, so the
/// pages work offline and under the Content-Security-Policy.
pub fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", ASSET_CACHE))
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

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    fn body(response: HttpResponse) -> String {
        let bytes = response.into_body().try_into_bytes().expect("a whole body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[test]
    fn the_error_page_escapes_its_message_with_teras_escaping() {
        let page = error_page(StatusCode::BAD_REQUEST, r#"<b>"Tom" & 'Jerry'</b>"#);
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        let page = body(page);
        assert!(page.contains("<title>400 Bad Request</title>"), "{page}");
        assert!(
            page.contains("<p>&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;&#x2F;b&gt;</p>"),
            "{page}"
        );
    }

    #[test]
    fn a_page_template_escapes_whatever_its_name() {
        let tera = page_template("page.txt", "{{ label }}").unwrap();
        let mut context = Context::new();
        context.insert("label", "<i>");
        assert_eq!(tera.render("page.txt", &context).unwrap(), "&lt;i&gt;");
    }

    #[test]
    fn assets_are_cached_briefly_by_anyone() {
        let response = asset("text/css; charset=utf-8", "p {}");
        let header = |name| response.headers().get(name).unwrap().to_str().unwrap();
        assert_eq!(header("cache-control"), "public, max-age=300");
        assert_eq!(header("content-type"), "text/css; charset=utf-8");
    }
}
