//! Which role each route needs. Roles are ordered: each may do everything the one
//! before it may.
//!
//! | role | may call |
//! |---|---|
//! | (none) | `/health`, `/ready`, `/livez`, `/readyz`, `/docs`, `/openapi.json`, `/console/login` (and its `login.js`) |
//! | `client` | `/v1/classify`, `/v1/embed`, `/v1/suggest`, `/info`, and the compatibility routes (`/predict`, `/embed`, `/rerank`, `/tokenize`, `/v1/embeddings`, `/model/parse`, `/integrations/dialogflow-cx`) |
//! | `agent` | client's, plus `/v1/conversations/{id}`, `/v1/feedback`, and the console (`/console`, its `app.js` and `app.css`, `/console/api/*`, `/console/session`) |
//! | `admin` | agent's, plus `/admin/*` and `/metrics` (unless `auth.public_metrics`) |
//!
//! Probes and the API description stay open: a load balancer or orchestrator has no
//! key, and the description holds no data. `/info` needs a key because clients use it
//! to discover models and labels, but it also names files and limits. A route this table
//! does not name needs `admin`, so a route added without a thought is closed, not open.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A bot platform or widget: classifies, embeds, asks for suggestions.
    Client,
    /// A human agent's tools: also reads conversations and gives feedback.
    Agent,
    /// Operations: also the policy, the knowledge base and metrics.
    Admin,
}

impl Role {
    const ALL: [Role; 3] = [Role::Client, Role::Agent, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected client, agent or admin"))
    }
}

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Open,
    Needs(Role),
}

/// The access a matched route (axum's path pattern, e.g. `/v1/conversations/{id}`)
/// needs. `public_metrics` opens `/metrics`.
pub(crate) fn required(route: &str, public_metrics: bool) -> Access {
    match route {
        "/health" | "/ready" | "/livez" | "/readyz" | "/docs" | "/openapi.json" => Access::Open,
        // The console's sign-in page: a form that keeps the key in a cookie; no data.
        "/console/login" | "/console/login.js" => Access::Open,
        "/metrics" if public_metrics => Access::Open,
        "/v1/classify" | "/v1/embed" | "/v1/suggest" | "/info" => Access::Needs(Role::Client),
        // Other servers' APIs (compat/): what a bot platform or an embedding client calls.
        "/predict"
        | "/embed"
        | "/rerank"
        | "/tokenize"
        | "/v1/embeddings"
        | "/model/parse"
        | "/integrations/dialogflow-cx" => Access::Needs(Role::Client),
        "/v1/conversations/{id}" | "/v1/feedback" => Access::Needs(Role::Agent),
        // The agent console (console/): the page, its files, its data and events.
        "/console"
        | "/console/app.js"
        | "/console/app.css"
        | "/console/api/queue"
        | "/console/api/overview"
        | "/console/api/events"
        // Sign-in sends the key as a bearer token and gets it back as an HttpOnly cookie.
        | "/console/session" => Access::Needs(Role::Agent),
        _ => Access::Needs(Role::Admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_unknown_routes_need_admin() {
        assert!(Role::Client < Role::Agent && Role::Agent < Role::Admin);
        assert_eq!(required("/health", false), Access::Open);
        assert_eq!(required("/v1/classify", false), Access::Needs(Role::Client));
        assert_eq!(required("/v1/feedback", false), Access::Needs(Role::Agent));
        assert_eq!(
            required("/admin/policy/reload", false),
            Access::Needs(Role::Admin)
        );
        assert_eq!(required("/metrics", false), Access::Needs(Role::Admin));
        assert_eq!(required("/metrics", true), Access::Open);
        assert_eq!(required("/v2/new-thing", false), Access::Needs(Role::Admin));
        assert_eq!(required("/readyz", false), Access::Open);
        assert_eq!(required("/predict", false), Access::Needs(Role::Client));
        assert_eq!(required("/model/parse", false), Access::Needs(Role::Client));
        for console in [
            "/console",
            "/console/app.js",
            "/console/app.css",
            "/console/api/queue",
            "/console/api/overview",
            "/console/api/events",
            "/console/session",
        ] {
            assert_eq!(
                required(console, false),
                Access::Needs(Role::Agent),
                "{console}"
            );
        }
        assert_eq!(
            required("/console/api/other", false),
            Access::Needs(Role::Admin)
        );
        assert_eq!("agent".parse::<Role>(), Ok(Role::Agent));
        assert!("root".parse::<Role>().is_err());
    }
}
