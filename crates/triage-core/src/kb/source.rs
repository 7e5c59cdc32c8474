//! Reading a knowledge base from disk: a folder of `.md` articles (searched recursively,
//! `README.md` and hidden files skipped) or one `.jsonl` file. Also the cheap "did
//! anything change?" stamp the watcher polls.

use super::article::{parse_jsonl_line, parse_markdown, Article};
use super::{KbError, KbIssue};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Articles read from a source, what was wrong with the others, and a hash of every byte
/// read (the disk-cache key's content part).
pub(crate) struct SourceContent {
    pub(crate) articles: Vec<Article>,
    pub(crate) issues: Vec<KbIssue>,
    pub(crate) content_hash: String,
}

/// Files of a source with their modification time and size, sorted by path: equal
/// stamps mean nothing was edited, added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp(Vec<(PathBuf, Option<SystemTime>, u64)>);

pub(crate) fn stamp(source: &Path) -> Result<Stamp, KbError> {
    let files = files(source)?;
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let meta = std::fs::metadata(&f).map_err(|e| io(&f, e))?;
        out.push((f, meta.modified().ok(), meta.len()));
    }
    Ok(Stamp(out))
}

/// The article files of a source, sorted.
fn files(source: &Path) -> Result<Vec<PathBuf>, KbError> {
    if source.is_file() {
        return Ok(vec![source.to_path_buf()]);
    }
    if !source.is_dir() {
        return Err(KbError::NotFound(source.to_path_buf()));
    }
    let mut out = Vec::new();
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let ty = entry.file_type().map_err(|e| io(&path, e))?;
            if ty.is_dir() {
                stack.push(path);
            } else if name.ends_with(".md") && !name.eq_ignore_ascii_case("readme.md") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and parses every article. Duplicate ids are issues (the first one wins) so a
/// copied file cannot silently shadow another.
pub(crate) fn read(source: &Path) -> Result<SourceContent, KbError> {
    let mut hasher = Sha256::new();
    let mut articles = Vec::new();
    let mut issues = Vec::new();
    let is_jsonl = source.is_file();
    for path in files(source)? {
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let rel = path.strip_prefix(source).unwrap_or(&path);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                issues.push(KbIssue::new(
                    &path,
                    None,
                    format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
                ));
                continue;
            }
        };
        if is_jsonl {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match parse_jsonl_line(&path, i + 1, line) {
                    Ok(a) => articles.push(a),
                    Err(issue) => issues.push(issue),
                }
            }
        } else {
            match parse_markdown(&path, &text) {
                Ok(a) => articles.push(a),
                Err(issue) => issues.push(issue),
            }
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut first_source = std::collections::HashMap::new();
    articles.retain(|a| {
        if seen.insert(a.id.clone()) {
            first_source.insert(a.id.clone(), a.source.clone());
            true
        } else {
            let (file, line) = split_source(&a.source);
            issues.push(KbIssue::new(
                &file,
                line,
                format!(
                    "duplicate id {:?} (already used by {}); this article is skipped",
                    a.id, first_source[&a.id]
                ),
            ));
            false
        }
    });
    Ok(SourceContent {
        articles,
        issues,
        content_hash: hex(&hasher.finalize()),
    })
}

pub(crate) fn split_source(source: &str) -> (PathBuf, Option<usize>) {
    match source.rsplit_once(':') {
        Some((f, l)) if l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty() => {
            (PathBuf::from(f), l.parse().ok())
        }
        _ => (PathBuf::from(source), None),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path, source: std::io::Error) -> KbError {
    KbError::Io {
        path: path.to_path_buf(),
        source,
    }
}
