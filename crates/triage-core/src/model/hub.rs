//! Resolves `--model` values that are Hugging Face model ids (`org/name`) to local files
//! through hf-hub, so the real loading path stays in place even though this project's
//! machines cannot reach the Hub: with `HF_HUB_OFFLINE=1` only the cache is consulted,
//! otherwise hf-hub checks its cache (`HF_HOME`) before downloading.

use crate::cause::Detail;
use std::path::PathBuf;

/// Files fetched for a bundle; the optional ones may be missing from a plain BERT repo.
const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
const OPTIONAL: [&str; 2] = ["bundle.toml", "sentence_bert_config.json"];

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("model {id:?}: {file} is not in the Hugging Face cache and HF_HUB_OFFLINE is set")]
    NotCached { id: String, file: String },
    /// hf-hub failed; its error is the source.
    #[error("model {id:?}: could not fetch {file}: {message}")]
    Fetch {
        id: String,
        file: String,
        #[source]
        message: Detail,
    },
}

/// Looks like `org/name` (and is not an existing path, which the caller checks first).
pub(crate) fn is_hub_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && *p != "."
                && *p != ".."
        })
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"))
}

/// Returns the snapshot folder holding the model's files.
pub(crate) fn resolve(id: &str) -> Result<PathBuf, HubError> {
    let mut first: Option<PathBuf> = None;
    if offline() {
        let cache = hf_hub::Cache::from_env().model(id.to_string());
        for file in REQUIRED {
            let path = cache.get(file).ok_or_else(|| HubError::NotCached {
                id: id.into(),
                file: file.into(),
            })?;
            first.get_or_insert(path);
        }
    } else {
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_progress(false)
            .build()
            .map_err(|e| HubError::Fetch {
                id: id.into(),
                file: "-".into(),
                message: Detail::of(e),
            })?;
        let repo = api.model(id.to_string());
        for file in REQUIRED {
            let path = repo.get(file).map_err(|e| HubError::Fetch {
                id: id.into(),
                file: file.into(),
                message: Detail::of(e),
            })?;
            first.get_or_insert(path);
        }
        for file in OPTIONAL {
            // A plain BERT repository has neither; their absence is not an error.
            let _ = repo.get(file);
        }
    }
    let dir = first
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default();
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_are_org_slash_name() {
        assert!(is_hub_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(!is_hub_id("models/triage-en-small/extra"));
        assert!(!is_hub_id("../x"));
        assert!(!is_hub_id("plain"));
    }

    #[test]
    fn offline_missing_model_names_the_file() {
        std::env::set_var("HF_HUB_OFFLINE", "1");
        std::env::set_var("HF_HOME", std::env::temp_dir().join("triage-empty-hf-home"));
        let err = resolve("nobody/nothing").unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
