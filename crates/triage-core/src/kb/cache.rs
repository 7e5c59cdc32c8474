//! On-disk cache of article embeddings, so a restart does not re-run the encoder over the
//! whole knowledge base (at ~100 texts/s on two cores, 10k articles take minutes).
//!
//! File name: `kb-<source>-<bundle>-<content>.emb` — hashes of the knowledge-base path,
//! of the embedder's fingerprint, and of every byte of the knowledge base. Inside, each
//! row is keyed by the sha256 of its text, so after an edit the newest file of the same
//! source and bundle still supplies every unchanged row and only edited texts are
//! embedded again. Files are written atomically (temp file + rename); a corrupt or
//! foreign file is ignored, never trusted. A cache that cannot be written only costs time.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"TRKBEMB1";

pub(crate) type TextKey = [u8; 32];

pub(crate) fn text_key(text: &str) -> TextKey {
    Sha256::digest(text.as_bytes()).into()
}

fn short(s: &str, n: usize) -> String {
    super::source::hex(&Sha256::digest(s.as_bytes()))[..n].to_string()
}

/// Where the cache of one knowledge base for one bundle lives.
pub(crate) struct EmbeddingCache {
    dir: PathBuf,
    prefix: String,
}

impl EmbeddingCache {
    pub(crate) fn new(dir: &Path, source: &Path, fingerprint: &str) -> Self {
        let source = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        Self {
            dir: dir.to_path_buf(),
            prefix: format!(
                "kb-{}-{}-",
                short(&source.to_string_lossy(), 12),
                short(fingerprint, 16)
            ),
        }
    }

    pub(crate) fn path_for(&self, content_hash: &str) -> PathBuf {
        self.dir.join(format!(
            "{}{}.emb",
            self.prefix,
            &content_hash[..16.min(content_hash.len())]
        ))
    }

    /// Rows of the exact file for this content if it exists, else of the newest file of
    /// the same source and bundle. Empty when there is none or it is unreadable.
    pub(crate) fn load(
        &self,
        content_hash: &str,
        dim: Option<usize>,
    ) -> HashMap<TextKey, Vec<f32>> {
        let exact = self.path_for(content_hash);
        let path = if exact.is_file() {
            Some(exact)
        } else {
            self.siblings()
                .into_iter()
                .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        };
        match path.map(|p| (read(&p, dim), p)) {
            Some((Ok(rows), _)) => rows,
            Some((Err(e), p)) => {
                tracing::warn!("ignoring knowledge-base cache {}: {e}", p.display());
                HashMap::new()
            }
            None => HashMap::new(),
        }
    }

    /// Writes the rows for this content and removes older files of the same source and
    /// bundle. Failures are logged: the cache is an optimisation.
    pub(crate) fn store(&self, content_hash: &str, dim: usize, rows: &[(TextKey, &[f32])]) {
        let path = self.path_for(content_hash);
        if let Err(e) = std::fs::create_dir_all(&self.dir).and_then(|_| write(&path, dim, rows)) {
            tracing::warn!("cannot write knowledge-base cache {}: {e}", path.display());
            return;
        }
        for old in self.siblings() {
            if old != path {
                let _ = std::fs::remove_file(old);
            }
        }
    }

    fn siblings(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&self.prefix) && n.ends_with(".emb"))
            })
            .collect()
    }
}

fn write(path: &Path, dim: usize, rows: &[(TextKey, &[f32])]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut buf = Vec::with_capacity(16 + rows.len() * (32 + dim * 4));
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(dim as u32).to_le_bytes());
    buf.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for (key, v) in rows {
        buf.extend_from_slice(key);
        for x in v.iter().take(dim) {
            buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&buf)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

fn read(path: &Path, want_dim: Option<usize>) -> Result<HashMap<TextKey, Vec<f32>>, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err("not a triage embedding cache".into());
    }
    let dim = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let n = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    if want_dim.is_some_and(|d| d != dim) {
        return Err(format!("dimension {dim}, expected {want_dim:?}"));
    }
    let row = 32 + dim * 4;
    if dim == 0 || bytes.len() != 16 + n * row {
        return Err(format!(
            "truncated: {} bytes for {n} rows of {dim}",
            bytes.len()
        ));
    }
    let mut out = HashMap::with_capacity(n);
    for chunk in bytes[16..].chunks_exact(row) {
        let mut key = [0u8; 32];
        key.copy_from_slice(&chunk[..32]);
        let v: Vec<f32> = chunk[32..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err("non-finite value".into());
        }
        out.insert(key, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_reuse_and_corruption() {
        let dir = std::env::temp_dir().join(format!("triage-kb-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = EmbeddingCache::new(&dir, Path::new("/kb/x"), "bundle@1");
        assert!(cache.load("aaaa", Some(2)).is_empty());
        let (k1, k2) = (text_key("one"), text_key("two"));
        cache.store("aaaa", 2, &[(k1, &[1.0, 0.0]), (k2, &[0.0, 1.0])]);
        assert_eq!(cache.load("aaaa", Some(2))[&k2], vec![0.0, 1.0]);
        // Other content: the newest file still supplies unchanged rows.
        assert_eq!(cache.load("bbbb", Some(2)).len(), 2);
        assert!(cache.load("aaaa", Some(3)).is_empty(), "other dimension");
        // Another bundle shares nothing.
        let other = EmbeddingCache::new(&dir, Path::new("/kb/x"), "bundle@2");
        assert!(other.load("aaaa", Some(2)).is_empty());
        // A newer file replaces the old one.
        cache.store("bbbb", 2, &[(k1, &[1.0, 0.0])]);
        assert!(!cache.path_for("aaaa").exists());
        std::fs::write(cache.path_for("bbbb"), b"TRKBEMB1garbage").unwrap();
        assert!(cache.load("bbbb", Some(2)).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
