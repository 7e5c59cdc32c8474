//! `GET /console`, `/console/app.js`, `/console/app.css`: the page, compiled in; and
//! `/console/login` (with `login.js`), where a browser gives an agent key on a server
//! with keys (sent once to `POST /console/session`, which sets it as the `triage_key`
//! cookie, `HttpOnly` and `SameSite=Strict`: see `session` and `auth`). The
//! headers keep the page's own rules even if a message ever slipped through as markup:
//! a Content-Security-Policy that runs only these same-origin files (no inline script,
//! no other origin), `nosniff`, and no framing by another site.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

const HTML: &str = include_str!("assets/console.html");
const JS: &str = include_str!("assets/console.js");
const CSS: &str = include_str!("assets/console.css");
const LOGIN: &str = include_str!("assets/login.html");
const LOGIN_JS: &str = include_str!("assets/login.js");

/// Scripts and styles from this server only; images only as inline data (the plots
/// are inline SVG); requests to this server only; never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ),
        // Small, and it changes with the binary: always checked, cheaply.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

pub(crate) async fn html() -> Response {
    asset(HTML, "text/html; charset=utf-8")
}

pub(crate) async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

pub(crate) async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub(crate) async fn login() -> Response {
    asset(LOGIN, "text/html; charset=utf-8")
}

pub(crate) async fn login_js() -> Response {
    asset(LOGIN_JS, "text/javascript; charset=utf-8")
}
