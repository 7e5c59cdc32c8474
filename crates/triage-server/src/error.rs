//! The one place where errors become HTTP: status, `Retry-After`, and the JSON body
//! `{"error": {"code", "message"}}`. Also the JSON extractor, whose rejections (wrong
//! content type, bad UTF-8, bad JSON, oversized body, a body slower than
//! `limits.body_timeout_ms`) are turned into the same error shape.

use super::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use triage_core::api::{ErrorBody, ErrorDetail};
use triage_core::engine::EngineError;
use triage_core::error::TriageError;

pub(crate) fn status_of(err: &TriageError) -> StatusCode {
    match err {
        TriageError::EmptyText { .. }
        | TriageError::UnknownChannel { .. }
        | TriageError::UnknownIntentSet { .. }
        | TriageError::UnknownModel { .. }
        | TriageError::InvalidRequest(_)
        | TriageError::InvalidCustomer(_)
        | TriageError::UnknownSuggestion(_)
        | TriageError::UnknownLabel(_)
        | TriageError::InvalidPolicy(_) => StatusCode::UNPROCESSABLE_ENTITY,
        TriageError::TextTooLarge { .. }
        | TriageError::BatchTooLarge { .. }
        | TriageError::PayloadTooLarge { .. }
        | TriageError::Engine(EngineError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        TriageError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        TriageError::InvalidJson(_) | TriageError::InvalidUtf8 => StatusCode::BAD_REQUEST,
        TriageError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        TriageError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        TriageError::Forbidden(_) => StatusCode::FORBIDDEN,
        TriageError::Engine(EngineError::Overloaded { .. }) => StatusCode::TOO_MANY_REQUESTS,
        TriageError::Engine(EngineError::Closed)
        | TriageError::NotReady
        | TriageError::MemoryUnavailable(_)
        | TriageError::KbUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        TriageError::NotFound(_) | TriageError::UnknownConversation(_) => StatusCode::NOT_FOUND,
        TriageError::Engine(EngineError::Backend(_))
        | TriageError::Internal(_)
        | TriageError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Wrapper so handlers can `?` a [`TriageError`].
pub(crate) struct ApiError(pub(crate) TriageError);

impl From<TriageError> for ApiError {
    fn from(e: TriageError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        if status.is_server_error() {
            // The client gets the message; the log also gets what caused it, when the
            // message does not already say it (`source()` chain, see triage_core::cause).
            let lines = triage_core::cause::chain(&self.0);
            if lines.len() > 1 {
                let causes = lines[1..].join("; caused by: ");
                tracing::error!(code = self.0.code(), error = %self.0, caused_by = %causes, "request failed");
            } else {
                tracing::error!(code = self.0.code(), error = %self.0, "request failed");
            }
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.0.code().to_string(),
                message: self.0.to_string(),
                index: self.0.index(),
            },
        };
        // `Retry-After` on 429/503 is added by the middleware, which knows the config.
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: say which scheme the server expects.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"triage\""),
            );
        }
        resp
    }
}

/// JSON body extractor with our error codes. The body must be sent as
/// `application/json` (or `application/…+json`, any parameters): a browser sends
/// `text/plain`, form and multipart bodies cross-site without asking the server first
/// (no CORS preflight), so accepting them would let any web page open in an agent's
/// browser post to the API. Anything else is 415 `unsupported_media_type`.
pub(crate) struct ApiJson<T>(pub(crate) T);

/// Whether the request says its body is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub[sub.len() - 5..].eq_ignore_ascii_case("+json"))
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError(TriageError::UnsupportedMediaType(
                "send the body as JSON with the header content-type: application/json".into(),
            )));
        }
        // The whole body within `body_timeout_ms`, however it trickles in.
        let ms = state.config.limits.body_timeout_ms;
        let read = Bytes::from_request(req, state);
        let Ok(read) = tokio::time::timeout(std::time::Duration::from_millis(ms), read).await
        else {
            return Err(ApiError(TriageError::RequestTimeout(format!(
                "the request body did not arrive within {ms} ms"
            ))));
        };
        let bytes = read.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                TriageError::PayloadTooLarge {
                    max: state.config.max_body_bytes(),
                }
            }
            other => TriageError::InvalidRequest(other.body_text()),
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| TriageError::InvalidUtf8)?;
        serde_json::from_str(text).map(ApiJson).map_err(|e| {
            ApiError(match e.classify() {
                serde_json::error::Category::Data => TriageError::InvalidRequest(e.to_string()),
                _ => TriageError::InvalidJson(e.to_string()),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(ct: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h
    }

    #[test]
    fn only_json_content_types_are_json() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(&with(Some(ok))), "{ok}");
        }
        for bad in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("text/json"),
            Some("application/jsonp"),
            Some("application/+json"),
            Some(""),
        ] {
            assert!(!is_json(&with(bad)), "{bad:?}");
        }
    }
}
