//! What core tells an audit log: every time the handoff policy or a knowledge base is
//! reloaded (or a reload is refused), with the content hash before and after and who
//! asked. Core only describes the event; the server decides where it is written (its
//! JSON-lines audit log), so the policy and knowledge-base code stay free of files,
//! keys and HTTP. An event never carries customers' words: only file names, hashes,
//! counts and the loader's error message (about the file, not about any message).

use serde::Serialize;
use std::sync::Arc;

/// Who started a reload, as the audit log shows it.
pub const BY_WATCH: &str = "watch";

/// Which file a reload concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reloadable {
    Policy,
    Kb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// A new version is in force.
    Reloaded,
    /// The new content was refused; the previous version stays in force.
    Rejected,
}

/// One reload, as an audit log records it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadEvent {
    pub what: Reloadable,
    /// The policy file or the knowledge-base folder (or JSONL file).
    pub file: String,
    /// [`BY_WATCH`] for a change found by the file watch; otherwise whoever asked (the
    /// API key's name on an admin call).
    pub by: String,
    pub outcome: ReloadOutcome,
    /// SHA-256 of the content in force before (absent when nothing served yet).
    pub sha256_before: Option<String>,
    /// SHA-256 of the content in force after; for a rejected reload, of the refused
    /// content (absent when it could not be read), while `before` stays in force.
    pub sha256_after: Option<String>,
    pub error: Option<String>,
}

/// Receives reload events. Called on the thread that reloaded (a watch thread or a
/// blocking-pool thread of an admin call): an implementation must not block for long.
pub trait ReloadAudit: Send + Sync {
    fn reloaded(&self, event: ReloadEvent);
}

/// Where a reloadable thing sends its events; nothing until one is set.
#[derive(Default)]
pub(crate) struct AuditSlot(std::sync::RwLock<Option<Arc<dyn ReloadAudit>>>);

impl AuditSlot {
    pub(crate) fn set(&self, audit: Arc<dyn ReloadAudit>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(audit);
    }

    pub(crate) fn record(&self, event: ReloadEvent) {
        let audit = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(a) = audit {
            a.reloaded(event);
        }
    }
}
