//! API keys: the keys file, how a presented key is checked, how a key is made, and the
//! hot reload of the file.
//!
//! The file (`auth.keys_file`, TOML) lists one `[[key]]` table per key:
//!
//! ```toml
//! [[key]]
//! name = "support-widget"     # shown in the audit log; unique
//! tenant = "acme"             # whose conversations the key reaches
//! role = "client"             # client, agent or admin
//! sha256 = "9f86d0…"          # SHA-256 of the key, 64 hex digits
//! ```
//!
//! Only the hash is stored, so the file (and its backups) cannot be used to call the
//! server. The hash is a plain SHA-256, not a password hash such as argon2: a key is 32
//! random bytes from the operating system (`generate`), so there is nothing to guess
//! and no dictionary to slow down, and a slow hash would only cost every request time.
//! A presented key is compared with every stored hash in constant time (`subtle`), so
//! response times say nothing about how much of a hash matched.
//!
//! The file is checked every `auth.reload_ms` (stat of modification time and size, read
//! once it has held still for one more check, content hash decides): a valid new file
//! replaces the keys at once; an invalid or missing one keeps the keys in force, is
//! logged, and is written to the audit log.

use super::audit::{AuditLine, AuditLog};
use super::roles::Role;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use subtle::ConstantTimeEq;
use triage_core::audit::BY_WATCH;
use triage_core::tenant::Tenant;
use triage_core::watch::Settle;

/// Every key starts with this, so that secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "trg_";

/// Longest key name, in bytes.
const MAX_NAME: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file cannot be read or written; the I/O error is the source.
    #[error("keys file {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("keys file {file}: {message}")]
    Invalid { file: PathBuf, message: String },
}

/// One key as the file describes it (the key itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub name: String,
    pub tenant: Tenant,
    pub role: Role,
    hash: [u8; 32],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    tenant: Tenant,
    role: Role,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysToml {
    #[serde(default)]
    key: Vec<FileEntry>,
}

/// The keys of one version of the file.
#[derive(Debug, Default)]
pub struct Keys {
    entries: Vec<KeyEntry>,
    /// SHA-256 of the file's bytes.
    sha256: String,
}

impl Keys {
    /// Parses and checks a keys file: names unique, non-empty and without control
    /// characters, every hash 64 hex digits and unique.
    fn parse(text: &str) -> Result<Self, String> {
        let file: KeysToml = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut entries = Vec::with_capacity(file.key.len());
        for (i, e) in file.key.into_iter().enumerate() {
            let at = format!("key {} ({:?})", i + 1, e.name);
            check_name(&e.name).map_err(|m| format!("{at}: {m}"))?;
            if !names.insert(e.name.clone()) {
                return Err(format!("{at}: the name is used twice"));
            }
            let hash = parse_hex(&e.sha256)
                .ok_or_else(|| format!("{at}: sha256 must be 64 hex digits"))?;
            if !hashes.insert(hash) {
                return Err(format!("{at}: the same key is listed twice"));
            }
            entries.push(KeyEntry {
                name: e.name,
                tenant: e.tenant,
                role: e.role,
                hash,
            });
        }
        Ok(Self {
            entries,
            sha256: sha256_hex(text.as_bytes()),
        })
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of a presented key. Every stored hash is compared, in constant time.
    pub fn find(&self, presented: &str) -> Option<&KeyEntry> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&digest)) {
                found = Some(e);
            }
        }
        found
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!(
            "a name is 1 to {MAX_NAME} bytes without control characters"
        ));
    }
    Ok(())
}

fn parse_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A new key: [`KEY_PREFIX`] and 32 random bytes from the operating system, in hex.
fn generate() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{hex}")
}

/// What the keys file stores of `key`.
pub fn hash(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// Makes a key, appends its entry to `file` (created if missing) and returns the key,
/// which is stored nowhere: the caller shows it once. The file must be valid first, and
/// `name` must be new in it; the rest of the file (comments included) is left as it is.
pub fn add(file: &Path, name: &str, tenant: &Tenant, role: Role) -> Result<String, KeysError> {
    let invalid = |message: String| KeysError::Invalid {
        file: file.to_path_buf(),
        message,
    };
    check_name(name).map_err(invalid)?;
    let existing = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(KeysError::Read {
                file: file.to_path_buf(),
                source: e,
            })
        }
    };
    let keys = Keys::parse(&existing).map_err(invalid)?;
    if keys.entries.iter().any(|e| e.name == name) {
        return Err(invalid(format!(
            "a key named {name:?} exists already (remove its [[key]] entry first to replace it)"
        )));
    }
    let key = generate();
    let mut text = String::new();
    if existing.is_empty() {
        text.push_str(
            "# API keys of the triage server (auth.keys_file): SHA-256 of each key, never the\n\
             # key itself. Add one with `triage keys add`, revoke one with `triage keys remove`.\n",
        );
    } else if !existing.ends_with('\n') {
        text.push('\n');
    }
    // TOML basic strings: the name is quoted by serde to escape what needs it.
    let quoted = toml::Value::String(name.to_string()).to_string();
    text.push_str(&format!(
        "\n[[key]]\nname = {quoted}\ntenant = \"{tenant}\"\nrole = \"{role}\"\nsha256 = \"{}\"\n",
        hash(&key)
    ));
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| KeysError::Read {
            file: file.to_path_buf(),
            source: e,
        })?;
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| KeysError::Read {
            file: file.to_path_buf(),
            source: e,
        })?;
    Ok(key)
}

/// Revokes the key named `name`: removes its `[[key]]` entry from `file`, leaving the
/// rest (comments included) as it is, and returns what it was. The new file replaces
/// the old in one step (written beside it, then renamed), so a server watching it never
/// reads half a file; it stops accepting the key within `auth.reload_ms`.
pub fn remove(file: &Path, name: &str) -> Result<KeyEntry, KeysError> {
    let invalid = |message: String| KeysError::Invalid {
        file: file.to_path_buf(),
        message,
    };
    let io = |e: std::io::Error| KeysError::Read {
        file: file.to_path_buf(),
        source: e,
    };
    let text = std::fs::read_to_string(file).map_err(io)?;
    let keys = Keys::parse(&text).map_err(invalid)?;
    let Some(gone) = keys.entries.iter().find(|e| e.name == name).cloned() else {
        return Err(invalid(format!("no key named {name:?}")));
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| invalid(format!("{e}")))?;
    let tables = doc
        .get_mut("key")
        .and_then(|k| k.as_array_of_tables_mut())
        .ok_or_else(|| invalid("no [[key]] entries".into()))?;
    let Some(at) = tables
        .iter()
        .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
    else {
        return Err(invalid(format!("no [[key]] named {name:?}")));
    };
    // Comments above an entry go with it, but those above the first one head the file.
    let head = (at == 0)
        .then(|| tables.get(0))
        .flatten()
        .and_then(|t| t.decor().prefix())
        .and_then(|p| p.as_str())
        .map(str::to_string);
    tables.remove(at);
    if let Some(head) = head {
        match tables.get_mut(0) {
            Some(next) => {
                let own = next.decor().prefix().and_then(|p| p.as_str()).unwrap_or("");
                let joined = format!("{head}{own}");
                next.decor_mut().set_prefix(joined);
            }
            None => doc.set_trailing(head),
        }
    }
    let edited = doc.to_string();
    // What is left must still be a valid keys file with one entry fewer.
    let left = Keys::parse(&edited).map_err(invalid)?;
    if left.entries.len() + 1 != keys.entries.len() {
        return Err(invalid(format!("could not remove {name:?} alone")));
    }
    let tmp = file.with_extension("toml.tmp");
    std::fs::write(&tmp, edited).map_err(io)?;
    std::fs::rename(&tmp, file).map_err(io)?;
    Ok(gone)
}

/// Reads and parses a keys file.
pub fn load(file: &Path) -> Result<Keys, KeysError> {
    let text = std::fs::read_to_string(file).map_err(|e| KeysError::Read {
        file: file.to_path_buf(),
        source: e,
    })?;
    Keys::parse(&text).map_err(|message| KeysError::Invalid {
        file: file.to_path_buf(),
        message,
    })
}

/// The keys in force, swapped when the file changes.
pub(crate) struct KeyRing {
    file: PathBuf,
    current: RwLock<Arc<Keys>>,
    /// When the watch re-reads the file.
    settle: Settle,
    audit: Arc<AuditLog>,
}

impl KeyRing {
    /// Loads `file`, which must exist and be valid.
    pub(crate) fn load(file: &Path, audit: Arc<AuditLog>) -> Result<Self, KeysError> {
        let settle = Settle::new(file);
        let keys = load(file)?;
        Ok(Self {
            file: file.to_path_buf(),
            current: RwLock::new(Arc::new(keys)),
            settle,
            audit,
        })
    }

    pub(crate) fn current(&self) -> Arc<Keys> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the file again; a valid, different file replaces the keys. Returns whether
    /// anything changed; on error the keys in force stay. Both are audited, with the
    /// names added, removed and changed (never a key or a hash).
    fn reload(&self, by: &str) -> Result<bool, KeysError> {
        self.settle.reading(&self.file);
        let before = self.current();
        let line = |outcome: &str| AuditLine {
            file: Some(self.file.display().to_string()),
            sha256_before: Some(before.sha256.clone()),
            ..AuditLine::by("keys_reload", by, outcome)
        };
        match load(&self.file) {
            Ok(keys) if keys.sha256 == before.sha256 => Ok(false),
            Ok(keys) => {
                let (added, removed, changed) = diff(&before, &keys);
                tracing::info!(
                    file = %self.file.display(),
                    keys = keys.entries.len(),
                    added = added.len(),
                    removed = removed.len(),
                    changed = changed.len(),
                    "API keys reloaded"
                );
                self.audit.write(AuditLine {
                    sha256_after: Some(keys.sha256.clone()),
                    added: Some(added),
                    removed: Some(removed),
                    changed: Some(changed),
                    ..line("reloaded")
                });
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                Ok(true)
            }
            Err(e) => {
                tracing::error!(error = %e, "keys file rejected; the keys in force stay");
                self.audit.write(AuditLine {
                    error: Some(e.to_string()),
                    ..line("rejected")
                });
                Err(e)
            }
        }
    }

    /// Reloads once the file has changed and held still ([`Settle`]). A file that
    /// disappeared is reported once (its stamp is then seen).
    fn poll(&self) {
        if self.settle.due(&self.file, true) {
            let _ = self.reload(BY_WATCH);
        }
    }

    /// Checks the file every `every` from a background thread
    /// ([`triage_core::watch::spawn_weak`]), until the server's state is dropped.
    pub(crate) fn watch(self: &Arc<Self>, every: Duration) {
        if every.is_zero() {
            return;
        }
        triage_core::watch::spawn_weak(
            "triage-keys-watch",
            every,
            self,
            Self::poll,
            "restart to change keys",
        );
    }
}

/// Names added, removed, and kept with another tenant, role or hash.
fn diff(before: &Keys, after: &Keys) -> (Vec<String>, Vec<String>, Vec<String>) {
    let map = |k: &Keys| -> BTreeMap<String, KeyEntry> {
        k.entries
            .iter()
            .map(|e| (e.name.clone(), e.clone()))
            .collect()
    };
    let (b, a) = (map(before), map(after));
    let added = a.keys().filter(|n| !b.contains_key(*n)).cloned().collect();
    let removed = b.keys().filter(|n| !a.contains_key(*n)).cloned().collect();
    let changed = a
        .iter()
        .filter(|(n, e)| b.get(*n).is_some_and(|old| old != *e))
        .map(|(n, _)| n.clone())
        .collect();
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, tenant: &str, role: &str, key: &str) -> String {
        format!(
            "[[key]]\nname = \"{name}\"\ntenant = \"{tenant}\"\nrole = \"{role}\"\nsha256 = \"{}\"\n",
            hash(key)
        )
    }

    #[test]
    fn a_key_is_found_by_its_hash_only() {
        let text = entry("w", "acme", "client", "k1") + &entry("a", "default", "admin", "k2");
        let keys = Keys::parse(&text).unwrap();
        let w = keys.find("k1").unwrap();
        assert_eq!(
            (w.name.as_str(), w.tenant.name(), w.role),
            ("w", "acme", Role::Client)
        );
        assert!(keys.find("k2").unwrap().tenant.is_default());
        assert!(keys.find("k3").is_none());
        assert!(keys.find("").is_none());
        assert!(keys.find(&hash("k1")).is_none(), "the hash is not a key");
    }

    #[test]
    fn invalid_files_are_refused_with_the_entry_named() {
        let one = entry("w", "acme", "client", "k1");
        for (text, says) in [
            (one.clone() + &one.replace("k1", "x"), "used twice"),
            (
                one.clone() + &entry("v", "acme", "client", "k1"),
                "listed twice",
            ),
            (one.replace("client", "root"), "unknown variant"),
            (one.replace("acme", "a c"), "tenant"),
            (one.replace(&hash("k1"), "abc"), "64 hex"),
            (one.replace("name = \"w\"", "name = \"\""), "1 to 64"),
            (one.clone() + "extra = 1\n", "unknown field"),
        ] {
            let err = Keys::parse(&text).unwrap_err();
            assert!(err.contains(says), "{err} (wanted {says:?})");
        }
        assert!(Keys::parse("").unwrap().is_empty());
    }

    #[test]
    fn generated_keys_are_long_random_and_added_to_the_file_once() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(
            a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 64,
            "{a}"
        );
        let dir = std::env::temp_dir().join(format!("triage-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join("sub/keys.toml");
        let acme = Tenant::new("acme").unwrap();
        let key = add(&file, "bot \"one\"", &acme, Role::Agent).unwrap();
        let again = add(&file, "bot \"one\"", &acme, Role::Agent).unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
        add(&file, "ops", &Tenant::default(), Role::Admin).unwrap();
        let keys = load(&file).unwrap();
        assert_eq!(keys.entries().len(), 2);
        let e = keys.find(&key).unwrap();
        assert_eq!((e.name.as_str(), e.role), ("bot \"one\"", Role::Agent));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(&key), "the key itself is never written");

        // Revoked: the entry goes, the other key and the header comment stay.
        let ops = load(&file).unwrap().entries()[1].clone();
        let missing = remove(&file, "nobody").unwrap_err();
        assert!(missing.to_string().contains("no key named"), "{missing}");
        let gone = remove(&file, "bot \"one\"").unwrap();
        assert_eq!(gone.role, Role::Agent);
        let keys = load(&file).unwrap();
        assert!(keys.find(&key).is_none(), "a removed key is refused");
        assert_eq!(keys.entries(), [ops]);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# API keys of the triage server"),
            "{text}"
        );
        assert!(!text.contains("bot"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
