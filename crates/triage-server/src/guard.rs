//! The authentication middleware: for every matched route, the access it needs
//! ([`crate::auth::roles`]); for a protected one, the caller from its API key (401
//! `unauthorized` without a known key), its role checked (403 `forbidden`), and the
//! caller attached to the request as a [`Principal`], which handlers take as an
//! argument (their tenant comes from it). Every `/admin/*` call by a known key is
//! written to the audit log with its outcome. Unmatched paths pass through to the 404.

use super::auth::audit::AuditLine;
use super::auth::roles::Access;
use super::auth::{Auth, Principal};
use super::error::ApiError;
use super::AppState;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use triage_core::error::TriageError;

pub(crate) async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        return next.run(req).await;
    };
    let Some(auth) = state.auth() else {
        // Fail closed: only `serve` builds a router, after starting authentication.
        return ApiError(TriageError::Internal(
            "authentication is not set up (serve() starts it)".into(),
        ))
        .into_response();
    };
    let role = match auth.access(&route) {
        Access::Open => return next.run(req).await,
        Access::Needs(role) => role,
    };
    let principal = match auth.authenticate(req.headers()) {
        Ok(p) => p,
        // A browser opening the console without a key goes to its sign-in page.
        Err(_) if route == "/console" => {
            return axum::response::Redirect::to("/console/login").into_response()
        }
        Err(e) => return ApiError(e).into_response(),
    };
    // Only what the audit line needs is kept across the handler's await (the request
    // body is not `Sync`, so no borrow of the request may live that long).
    let audit = route.starts_with("/admin/").then(|| AuditLine {
        tenant: Some(principal.tenant.to_string()),
        method: Some(req.method().to_string()),
        route: Some(route.clone()),
        ..AuditLine::by("admin", &principal.name, "")
    });
    let finish = |line: Option<AuditLine>, status: StatusCode, outcome: &str| {
        if let Some(line) = line {
            auth.audit().write(AuditLine {
                outcome: outcome.into(),
                status: Some(status.as_u16()),
                ..line
            });
        }
    };
    if let Err(e) = Auth::authorize(&principal, role, &route) {
        let resp = ApiError(e).into_response();
        finish(audit, resp.status(), "forbidden");
        return resp;
    }
    req.extensions_mut().insert(principal);
    let resp = next.run(req).await;
    let status = resp.status();
    finish(
        audit,
        status,
        if status.is_success() { "ok" } else { "error" },
    );
    resp
}

/// Handlers name the caller as an argument; a route the middleware did not protect has
/// none, which is a server bug (500), never an anonymous pass.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            ApiError(TriageError::Internal(
                "no caller attached to this request".into(),
            ))
        })
    }
}
