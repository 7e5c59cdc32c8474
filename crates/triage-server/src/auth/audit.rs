//! The audit log (`auth.audit_log`): one JSON object per line, appended, for
//!
//! * every `/admin/*` call by a known key (`"action": "admin"`, with method, route,
//!   status and `outcome` `ok`, `error` or `forbidden`); calls without a valid key are
//!   not written, so anonymous traffic cannot grow the file (they are counted in
//!   `/metrics` as 401s);
//! * every policy and knowledge-base reload that changed something or was refused
//!   (`policy_reload`, `kb_reload`), automatic (`"via": "watch"`) or asked for on an
//!   admin call (`"key"` names the key), with `sha256_before` and `sha256_after`;
//! * every change of the keys file (`keys_reload`): the names added, removed and
//!   changed, never a key or a hash of one.
//!
//! Each line has `time` (UTC, RFC 3339), `action`, `key` (the key's name; `anonymous` on
//! a server without keys) and `outcome`. No line ever holds a request body, so the
//! customers' words never reach it. Off when `auth.audit_log` is not set; a line that
//! cannot be written is logged as an error and does not fail the request.

use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use triage_core::audit::{ReloadAudit, ReloadEvent, ReloadOutcome, BY_WATCH};

/// One line of the audit log. Absent fields are left out.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct AuditLine {
    /// Set by [`AuditLog::write`].
    pub(crate) time: String,
    pub(crate) action: &'static str,
    /// The API key's name (absent for a change found by the file watch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    /// `watch` for a reload the file watch started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) via: Option<&'static str>,
    pub(crate) outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) route: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    /// The bundle whose knowledge-base index reloaded (each has its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sha256_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) added: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) removed: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) changed: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

impl AuditLine {
    /// A line for `action` started by `by` (a key's name, or [`BY_WATCH`]).
    pub(crate) fn by(action: &'static str, by: &str, outcome: &str) -> Self {
        let (key, via) = if by == BY_WATCH {
            (None, Some(BY_WATCH))
        } else {
            (Some(by.to_string()), None)
        };
        Self {
            action,
            key,
            via,
            outcome: outcome.to_string(),
            ..Self::default()
        }
    }
}

/// The JSON-lines file; the file is opened on first use and kept open.
pub(crate) struct AuditLog {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

impl AuditLog {
    /// The log at `path`; `None` writes nothing.
    pub(crate) fn new(path: Option<&Path>) -> Self {
        Self {
            path: path.map(Path::to_path_buf),
            file: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Opens (creating it and its folder) the file now, so that a path that cannot be
    /// written stops start-up rather than losing the first lines.
    pub(crate) fn open(&self) -> std::io::Result<()> {
        let mut slot = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = self.open_file()?;
        }
        Ok(())
    }

    fn open_file(&self) -> std::io::Result<Option<File>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Some)
    }

    /// Appends `line` with the current time. One `write` per line on a file opened for
    /// appending, under a lock: lines never interleave.
    pub(crate) fn write(&self, mut line: AuditLine) {
        if self.path.is_none() {
            return;
        }
        line.time = now_rfc3339();
        let mut text = match serde_json::to_string(&line) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit line");
                return;
            }
        };
        text.push('\n');
        let mut slot = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            match self.open_file() {
                Ok(f) => *slot = f,
                Err(e) => {
                    tracing::error!(error = %e, action = line.action, "cannot open the audit log");
                    return;
                }
            }
        }
        if let Some(f) = slot.as_mut() {
            if let Err(e) = f.write_all(text.as_bytes()) {
                tracing::error!(error = %e, action = line.action, "cannot write the audit log");
                // Reopen on the next line (the file may have been rotated away).
                *slot = None;
            }
        }
    }
}

/// Reload events of core, for one bundle's knowledge base or the policy.
pub(crate) struct ReloadAuditor {
    pub(crate) log: std::sync::Arc<AuditLog>,
    /// The bundle, for knowledge-base events.
    pub(crate) model: Option<String>,
}

impl ReloadAudit for ReloadAuditor {
    fn reloaded(&self, e: ReloadEvent) {
        let action = match e.what {
            triage_core::audit::Reloadable::Policy => "policy_reload",
            triage_core::audit::Reloadable::Kb => "kb_reload",
        };
        let outcome = match e.outcome {
            ReloadOutcome::Reloaded => "reloaded",
            ReloadOutcome::Rejected => "rejected",
        };
        self.log.write(AuditLine {
            file: Some(e.file),
            model: self.model.clone(),
            sha256_before: e.sha256_before,
            sha256_after: e.sha256_after,
            error: e.error,
            ..AuditLine::by(action, &e.by, outcome)
        });
    }
}

/// Now as `2026-12-02T09:30:00.123Z`.
fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_as_json_with_time_and_without_empty_fields() {
        let dir = std::env::temp_dir().join(format!("triage-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = AuditLog::new(Some(&dir.join("a/audit.jsonl")));
        log.open().unwrap();
        log.write(AuditLine {
            status: Some(200),
            ..AuditLine::by("admin", "ops", "ok")
        });
        log.write(AuditLine::by("policy_reload", BY_WATCH, "reloaded"));
        let text = std::fs::read_to_string(dir.join("a/audit.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["key"], "ops");
        assert_eq!(lines[0]["status"], 200);
        assert!(lines[0].get("error").is_none());
        assert_eq!(lines[1]["via"], "watch");
        assert!(lines[1].get("key").is_none());
        let time = lines[0]["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
        AuditLog::new(None).write(AuditLine::by("admin", "x", "ok"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
