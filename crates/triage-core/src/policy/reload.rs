//! The running policy and how it changes without a restart: on `POST
//! /admin/policy/reload`, or when the file changes on disk. A new file replaces the
//! policy only if it parses and validates as a whole; otherwise the old one keeps
//! serving and the error is logged and kept for `GET /admin/policy`.
//!
//! Change detection polls the file's modification time and size (one `stat` per
//! interval, default 1 s) rather than using inotify (`notify`): polling also sees edits
//! made by rename-and-replace editors, config-map symlink swaps in Kubernetes and
//! network file systems, needs no extra crate, and costs nothing measurable. A changed
//! file is read once its stamp has held still for one more poll (never halfway through
//! a write), an empty file is refused, and the content hash decides whether anything
//! really changed.

use super::config::PolicyConfig;
use super::rules::Policy;
use super::PolicyError;
use crate::audit::{AuditSlot, ReloadAudit, ReloadEvent, ReloadOutcome, Reloadable, BY_WATCH};
use crate::cause::Cause;
use crate::watch::Settle;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What `GET /admin/policy` shows about the running policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyStatus {
    /// The policy file (absent: built-in defaults).
    file: Option<String>,
    /// SHA-256 of the file content in force (empty for built-in defaults).
    sha256: String,
    /// Loads so far, the first included.
    pub generation: u64,
    loaded_at_ms: u64,
    /// Why the last attempt to load a changed file failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Outcome of a reload request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reloaded {
    /// The file changed and is now in force.
    Reloaded,
    /// The file holds what is already in force.
    Unchanged,
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The policy in force, swappable while requests read it.
pub struct PolicyHandle {
    file: Option<PathBuf>,
    current: RwLock<Arc<Policy>>,
    status: Mutex<PolicyStatus>,
    /// When the watch re-reads the file ([`crate::watch::Settle`]).
    settle: Settle,
    /// Told of every reload that changes the policy or is refused.
    audit: AuditSlot,
}

impl PolicyHandle {
    /// Loads `file`; the file must exist and be valid.
    pub fn load(file: &Path) -> Result<Self, PolicyError> {
        let settle = Settle::new(file);
        let bytes = std::fs::read(file).map_err(|e| PolicyError::Read {
            file: file.to_path_buf(),
            source: Cause::new(e),
        })?;
        let policy = Self::compile(file, &bytes)?;
        Ok(Self {
            file: Some(file.to_path_buf()),
            current: RwLock::new(Arc::new(policy)),
            status: Mutex::new(PolicyStatus {
                file: Some(file.display().to_string()),
                sha256: sha256(&bytes),
                generation: 1,
                loaded_at_ms: now_ms(),
                last_error: None,
            }),
            settle,
            audit: AuditSlot::default(),
        })
    }

    /// A fixed policy with no file behind it (tests, evaluation, built-in defaults).
    pub fn fixed(policy: Policy) -> Self {
        Self {
            file: None,
            current: RwLock::new(Arc::new(policy)),
            status: Mutex::new(PolicyStatus {
                file: None,
                sha256: String::new(),
                generation: 1,
                loaded_at_ms: now_ms(),
                last_error: None,
            }),
            settle: Settle::default(),
            audit: AuditSlot::default(),
        }
    }

    fn compile(file: &Path, bytes: &[u8]) -> Result<Policy, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            file: file.to_path_buf(),
            message,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not valid UTF-8".into()))?;
        // An empty file would mean "all defaults"; far more often it is a file being
        // rewritten. Refuse it: a policy that wants the defaults says so in a comment.
        if text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#')
        }) {
            return Err(invalid("the file is empty".into()));
        }
        let config = PolicyConfig::parse_file(file, text)?;
        Policy::new(config).map_err(invalid)
    }

    /// The policy for one decision. Cheap: an `Arc` clone under a read lock.
    pub fn get(&self) -> Arc<Policy> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn status(&self) -> PolicyStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Sends every reload that puts a new policy in force, or refuses one, to `audit`.
    pub fn set_audit(&self, audit: Arc<dyn ReloadAudit>) {
        self.audit.set(audit);
    }

    /// Reads the file again and puts it in force if it is valid and different. On error
    /// the old policy stays and the error is returned (and kept in the status).
    pub fn reload(&self) -> Result<Reloaded, PolicyError> {
        self.reload_by("request")
    }

    /// [`Self::reload`], saying who asked (the audit log's `by`: an API key's name, or
    /// [`BY_WATCH`]).
    pub fn reload_by(&self, by: &str) -> Result<Reloaded, PolicyError> {
        let Some(file) = &self.file else {
            return Ok(Reloaded::Unchanged);
        };
        self.settle.reading(file);
        // The refused content's hash, when the file could be read, goes with the error.
        let result = std::fs::read(file)
            .map_err(|e| {
                let e = PolicyError::Read {
                    file: file.clone(),
                    source: Cause::new(e),
                };
                (e, None)
            })
            .and_then(|bytes| {
                let hash = sha256(&bytes);
                if hash == self.status().sha256 {
                    return Ok((None, hash));
                }
                match Self::compile(file, &bytes) {
                    Ok(p) => Ok((Some(p), hash)),
                    Err(e) => Err((e, Some(hash))),
                }
            });
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let before = Some(status.sha256.clone()).filter(|h| !h.is_empty());
        let event = |outcome, after: Option<String>, error: Option<String>| ReloadEvent {
            what: Reloadable::Policy,
            file: file.display().to_string(),
            by: by.to_string(),
            outcome,
            sha256_before: before.clone(),
            sha256_after: after,
            error,
        };
        let (answer, event) = match result {
            Ok((None, _)) => {
                status.last_error = None;
                (Ok(Reloaded::Unchanged), None)
            }
            Ok((Some(policy), hash)) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
                status.sha256 = hash.clone();
                status.generation += 1;
                status.loaded_at_ms = now_ms();
                status.last_error = None;
                tracing::info!(file = %file.display(), generation = status.generation, "policy reloaded");
                let e = event(ReloadOutcome::Reloaded, Some(hash), None);
                (Ok(Reloaded::Reloaded), Some(e))
            }
            Err((e, refused)) => {
                tracing::error!(error = %e, "policy file rejected; the previous policy stays in force");
                status.last_error = Some(e.to_string());
                let ev = event(ReloadOutcome::Rejected, refused, Some(e.to_string()));
                (Err(e), Some(ev))
            }
        };
        drop(status);
        if let Some(e) = event {
            self.audit.record(e);
        }
        answer
    }

    /// Reloads once the file has changed and held still ([`Settle`]).
    fn poll(&self) {
        let Some(file) = &self.file else { return };
        if self.settle.due(file, false) {
            let _ = self.reload_by(BY_WATCH);
        }
    }

    /// Watches the file from a background thread ([`crate::watch::spawn_weak`]),
    /// checking every `every`, until the handle is dropped.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        if self.file.is_none() || every.is_zero() {
            return;
        }
        crate::watch::spawn_weak(
            "triage-policy-watch",
            every,
            self,
            Self::poll,
            "reload the policy file with POST /admin/policy/reload",
        );
    }
}
