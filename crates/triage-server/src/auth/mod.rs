//! Who is calling, and what they may do: API keys sent as `Authorization: Bearer <key>`
//! (or, from the agent console in a browser, as the `triage_key` cookie, which
//! `POST /console/session` sets `HttpOnly`: see `console_cookie`) ([`keys`]), the role each route needs ([`roles`]), and the audit log (`audit`).
//! The middleware that applies them is `guard` (beside this module, since it works on
//! the application state, which holds this one).
//!
//! Without `auth.keys_file` there are no keys: a server on a loopback address then
//! treats every caller as an `admin` of the `default` tenant (the quick start works
//! unchanged, and only programs on the same machine reach it). On any other address it
//! refuses to start, unless `auth.allow_insecure` (`--insecure`) says that anyone who
//! reaches the port is meant to be admin. With a keys file, every route but the probes
//! and the API description needs a key, whatever the address.

pub(crate) mod audit;
pub mod keys;
pub mod roles;

use self::audit::AuditLog;
use self::keys::{KeyRing, KeysError};
use self::roles::{Access, Role};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use triage_core::config::AuthConfig;
use triage_core::error::TriageError;
use triage_core::tenant::Tenant;

/// The caller of a request, attached to it by the middleware: handlers take the tenant
/// from here, never from the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    /// The key's name (`anonymous` without keys).
    pub(crate) name: String,
    pub(crate) tenant: Tenant,
    role: Role,
}

impl Principal {
    /// Every caller of a server without keys.
    fn anonymous() -> Self {
        Self {
            name: "anonymous".into(),
            tenant: Tenant::default(),
            role: Role::Admin,
        }
    }
}

/// Why a server may not start serving.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "refusing to serve {addr} without API keys: anyone who reaches it could read every \
         conversation and change the policy. Set auth.keys_file (make keys with \
         `triage keys add`), listen on a loopback address (127.0.0.1), or pass --insecure \
         (auth.allow_insecure = true) if that is intended"
    )]
    Insecure { addr: SocketAddr },
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("audit log {file}: {source}")]
    Audit {
        file: String,
        source: std::io::Error,
    },
    #[error("auth.cors_origins: {0}")]
    Cors(String),
}

enum Mode {
    /// No keys: everyone is [`Principal::anonymous`].
    Open,
    Keys(Arc<KeyRing>),
}

/// Authentication of one server.
pub(crate) struct Auth {
    mode: Mode,
    public_metrics: bool,
    cors: Option<CorsLayer>,
    audit: Arc<AuditLog>,
}

impl Auth {
    /// Loads the keys (and watches their file), checks the bind address and the CORS
    /// origins, and opens the audit log: every way the configuration cannot be served
    /// safely stops start-up here, with a message that says what to do.
    pub(crate) fn start(
        config: &AuthConfig,
        addr: SocketAddr,
        audit: Arc<AuditLog>,
    ) -> Result<Self, AuthError> {
        let cors = cors_layer(&config.cors_origins)?;
        if let Some(file) = audit.path() {
            audit.open().map_err(|source| AuthError::Audit {
                file: file.display().to_string(),
                source,
            })?;
        }
        let mode = match &config.keys_file {
            Some(file) => {
                let ring = Arc::new(KeyRing::load(file, audit.clone())?);
                let n = ring.current().entries().len();
                if n == 0 {
                    tracing::warn!(file = %file.display(), "the keys file holds no key: only /health, /ready and the docs answer");
                }
                tracing::info!(file = %file.display(), keys = n, "API keys required");
                ring.watch(config.reload_interval());
                Mode::Keys(ring)
            }
            None if addr.ip().is_loopback() => {
                tracing::info!(%addr, "no API keys (auth.keys_file): open to callers on this machine only");
                Mode::Open
            }
            None if config.allow_insecure => {
                tracing::warn!(%addr, "no API keys and not a loopback address: anyone who reaches this port is admin (auth.allow_insecure)");
                Mode::Open
            }
            None => return Err(AuthError::Insecure { addr }),
        };
        Ok(Self {
            mode,
            public_metrics: config.public_metrics,
            cors,
            audit,
        })
    }

    /// What a matched route needs.
    pub(crate) fn access(&self, route: &str) -> Access {
        roles::required(route, self.public_metrics)
    }

    /// The caller, from the `Authorization: Bearer` header; 401 `unauthorized` without
    /// one or with a key the server does not know.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, TriageError> {
        let ring = match &self.mode {
            Mode::Open => return Ok(Principal::anonymous()),
            Mode::Keys(ring) => ring,
        };
        let Some(key) = bearer(headers).or_else(|| console_cookie(headers)) else {
            return Err(TriageError::Unauthorized(
                "an API key is required: send the header Authorization: Bearer <key>".into(),
            ));
        };
        let keys = ring.current();
        let entry = keys
            .find(key)
            .ok_or_else(|| TriageError::Unauthorized("unknown API key".into()))?;
        Ok(Principal {
            name: entry.name.clone(),
            tenant: entry.tenant.clone(),
            role: entry.role,
        })
    }

    /// 403 `forbidden` unless `principal` has at least `role`.
    pub(crate) fn authorize(
        principal: &Principal,
        role: Role,
        route: &str,
    ) -> Result<(), TriageError> {
        if principal.role >= role {
            return Ok(());
        }
        Err(TriageError::Forbidden(format!(
            "{route} needs the {role} role; key {:?} is {}",
            principal.name, principal.role
        )))
    }

    /// The CORS layer, when origins are configured.
    pub(crate) fn cors(&self) -> Option<CorsLayer> {
        self.cors.clone()
    }

    pub(crate) fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The key a browser sends for the agent console: the [`CONSOLE_COOKIE`] cookie, which
/// the console's sign-in page (`/console/login`) sets with `SameSite=Strict`, since a
/// page opened from the address bar cannot send an `Authorization` header. Another
/// site's page cannot use it: a strict cookie is not sent with its requests, CORS never
/// allows credentials, and JSON bodies need `content-type: application/json`.
fn console_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == CONSOLE_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The cookie that carries an agent's key for the console (see [`console_cookie`]).
const CONSOLE_COOKIE: &str = "triage_key";

/// How long a console sign-in lasts (12 hours: one shift).
const CONSOLE_SESSION_SECS: u32 = 12 * 3600;

/// The `Set-Cookie` that signs a browser in to the console (`POST /console/session`):
/// this request's bearer key in the `triage_key` cookie, `HttpOnly` (no script can read
/// it, so script that got into a page could not take the key with it), `SameSite=Strict`
/// (sent only with requests from triage's own pages), `Secure` when the page came over
/// https (its `Origin` or a proxy's `X-Forwarded-Proto` says so), for one shift. `None`
/// without a bearer key, or with one no cookie may carry.
pub(crate) fn console_session_cookie(headers: &HeaderMap) -> Option<HeaderValue> {
    let key = bearer(headers)?;
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return None;
    }
    session_cookie(headers, key, CONSOLE_SESSION_SECS)
}

/// The `Set-Cookie` that signs the console out: the cookie emptied and expired.
pub(crate) fn console_session_end(headers: &HeaderMap) -> HeaderValue {
    session_cookie(headers, "", 0)
        .unwrap_or_else(|| HeaderValue::from_static("triage_key=; Max-Age=0"))
}

fn session_cookie(headers: &HeaderMap, value: &str, max_age: u32) -> Option<HeaderValue> {
    let https = |name: header::HeaderName, prefix: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(prefix))
    };
    let secure = https(header::ORIGIN, "https://")
        || https(
            header::HeaderName::from_static("x-forwarded-proto"),
            "https",
        );
    HeaderValue::from_str(&format!(
        "{CONSOLE_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    ))
    .ok()
}

/// CORS for the configured origins; none configured, no layer: browsers then refuse
/// to let another site's page read any answer, and JSON bodies (which need a preflight)
/// are never sent cross-site. Credentials (cookies) are never allowed: keys travel in
/// the `Authorization` header, which the page must set itself.
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, AuthError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| {
                let o = o.trim().trim_end_matches('/');
                let host = o
                    .strip_prefix("https://")
                    .or_else(|| o.strip_prefix("http://"));
                let ok = host.is_some_and(|h| !h.is_empty() && !h.contains('/'));
                if !ok {
                    return Err(AuthError::Cors(format!(
                        "{o:?} is not an origin (scheme://host[:port], or \"*\")"
                    )));
                }
                HeaderValue::from_str(o).map_err(|e| AuthError::Cors(format!("{o:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            h
        };
        assert_eq!(bearer(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&with("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(&with("Basic abc")), None);
        assert_eq!(bearer(&with("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn the_console_cookie_carries_a_key_for_browsers() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, HeaderValue::from_str(v).unwrap());
            h
        };
        assert_eq!(console_cookie(&with("triage_key=tk_1")), Some("tk_1"));
        assert_eq!(
            console_cookie(&with("a=b; triage_key=tk_2 ; c=d")),
            Some("tk_2")
        );
        assert_eq!(console_cookie(&with("xtriage_key=tk_3")), None);
        assert_eq!(console_cookie(&with("triage_key=")), None);
        assert_eq!(console_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn cors_origins_must_be_origins() {
        assert!(cors_layer(&[]).unwrap().is_none());
        assert!(cors_layer(&["https://console.example.com".into()])
            .unwrap()
            .is_some());
        assert!(cors_layer(&["*".into()]).unwrap().is_some());
        for bad in ["console.example.com", "https://x.com/path", "ftp://x"] {
            assert!(cors_layer(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_keys_only_loopback_or_an_explicit_insecure_flag_starts() {
        let audit = Arc::new(AuditLog::new(None));
        let open = AuthConfig::default();
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(Auth::start(&open, lo, audit.clone()).is_ok());
        assert!(Auth::start(&open, lo6, audit.clone()).is_ok());
        let err = Auth::start(&open, any, audit.clone()).err().unwrap();
        assert!(err.to_string().contains("--insecure"), "{err}");
        let insecure = AuthConfig {
            allow_insecure: true,
            ..AuthConfig::default()
        };
        let auth = Auth::start(&insecure, any, audit).unwrap();
        assert_eq!(
            auth.authenticate(&HeaderMap::new()).unwrap(),
            Principal::anonymous()
        );
    }
}
