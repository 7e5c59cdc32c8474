//! `POST /console/session` signs a browser in: the sign-in page sends the agent's key
//! once, as `Authorization: Bearer`, and the answer sets it as the `triage_key` cookie,
//! `HttpOnly` and `SameSite=Strict` (`auth::console_session_cookie`). Before, the page
//! wrote the cookie itself, so any script running in the console could read the key.
//! The guard has checked the key and its role (agent) before this runs, so a wrong key
//! sets nothing. `DELETE /console/session` signs out (the cookie expired).

use crate::auth::{self, Principal};
use crate::error::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use triage_core::error::TriageError;

pub(crate) async fn open(_caller: Principal, headers: HeaderMap) -> Result<Response, ApiError> {
    let cookie = auth::console_session_cookie(&headers).ok_or_else(|| {
        ApiError(TriageError::InvalidRequest(
            "send the key as the header Authorization: Bearer <key>".into(),
        ))
    })?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

pub(crate) async fn close(_caller: Principal, headers: HeaderMap) -> Response {
    let cookie = auth::console_session_end(&headers);
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}
