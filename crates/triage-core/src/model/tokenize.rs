//! Tokenizer wrapper: the bundle's `tokenizer.json` with truncation at the bundle's maximum
//! length and *no* padding — the engine pads each batch only to its longest item. The base
//! models ship a fixed padding of 128, which would make a 15-token message cost 128.

use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

/// One tokenized text, ready for the batcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenizeError(String);

pub struct TextTokenizer {
    inner: Tokenizer,
    prefix: String,
    max_len: usize,
}

impl TextTokenizer {
    pub fn from_file(path: &Path, max_len: usize, prefix: &str) -> Result<Self, TokenizeError> {
        let mut inner = Tokenizer::from_file(path).map_err(|e| TokenizeError(e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| TokenizeError(e.to_string()))?;
        Ok(Self {
            inner,
            prefix: prefix.to_string(),
            max_len,
        })
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The model's vocabulary knows this token (used to decide whether emoji need words).
    pub fn knows(&self, token: &str) -> bool {
        self.inner.token_to_id(token).is_some()
    }

    /// Whether the tokenizer maps `text` to nothing but the unknown token: a sign the
    /// vocabulary lacks it (e.g. emoji in BERT's uncased WordPiece vocabulary).
    pub fn is_unknown(&self, text: &str) -> bool {
        let Ok(enc) = self.inner.encode(text, false) else {
            return true;
        };
        let unk = ["[UNK]", "<unk>"]
            .iter()
            .filter_map(|t| self.inner.token_to_id(t))
            .collect::<Vec<_>>();
        !enc.get_ids().is_empty() && enc.get_ids().iter().all(|id| unk.contains(id))
    }

    pub fn encode(&self, text: &str) -> Result<Encoded, TokenizeError> {
        let input = format!("{}{}", self.prefix, text);
        let enc = self
            .inner
            .encode(input.as_str(), true)
            .map_err(|e| TokenizeError(e.to_string()))?;
        Ok(Encoded {
            ids: enc.get_ids().to_vec(),
            type_ids: enc.get_type_ids().to_vec(),
        })
    }
}
