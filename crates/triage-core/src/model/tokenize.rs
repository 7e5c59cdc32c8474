//! Tokenizer wrapper: the bundle's `tokenizer.json` with truncation at the bundle's maximum
//! length and *no* padding — the engine pads each batch only to its longest item. The base
//! models ship a fixed padding of 128, which would make a 15-token message cost 128.

use crate::cause::Cause;
use serde::Serialize;
use std::path::Path;
use std::sync::OnceLock;
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

/// The tokenizers crate's error, kept whole (its message is this error's message).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TokenizeError(Cause);

impl From<tokenizers::Error> for TokenizeError {
    fn from(e: tokenizers::Error) -> Self {
        TokenizeError(Cause::from(e))
    }
}

/// One token as `/tokenize` shows it (TEI's shape): its id, the text it covers, whether
/// the tokenizer added it (`[CLS]`, `[SEP]`: no offsets then), and its byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenSpan {
    id: u32,
    text: String,
    special: bool,
    start: Option<usize>,
    stop: Option<usize>,
}

pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, made on first use: only token listings
    /// (`/tokenize`) need every token of a long text.
    untruncated: OnceLock<Tokenizer>,
    prefix: String,
    max_len: usize,
}

impl TextTokenizer {
    pub fn from_file(path: &Path, max_len: usize, prefix: &str) -> Result<Self, TokenizeError> {
        let mut inner = Tokenizer::from_file(path).map_err(TokenizeError::from)?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(TokenizeError::from)?;
        Ok(Self {
            inner,
            untruncated: OnceLock::new(),
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
        self.encode_checked(text).map(|(e, _)| e)
    }

    /// [`Self::encode`], also saying whether the text was cut at `max_len` tokens (APIs
    /// whose clients ask for an error rather than silent truncation need to know).
    pub(crate) fn encode_checked(&self, text: &str) -> Result<(Encoded, bool), TokenizeError> {
        let input = format!("{}{}", self.prefix, text);
        let enc = self
            .inner
            .encode(input.as_str(), true)
            .map_err(TokenizeError::from)?;
        let truncated = !enc.get_overflowing().is_empty();
        Ok((
            Encoded {
                ids: enc.get_ids().to_vec(),
                type_ids: enc.get_type_ids().to_vec(),
            },
            truncated,
        ))
    }

    /// Every token of `prefix + text`, not truncated, with byte offsets into that string
    /// (which is also what each token's `text` is cut from).
    pub fn tokens(&self, text: &str, add_special: bool) -> Result<Vec<TokenSpan>, TokenizeError> {
        let full = match self.untruncated.get() {
            Some(t) => t,
            None => {
                let mut t = self.inner.clone();
                t.with_truncation(None).map_err(TokenizeError::from)?;
                self.untruncated.get_or_init(|| t)
            }
        };
        let input = format!("{}{}", self.prefix, text);
        let enc = full
            .encode(input.as_str(), add_special)
            .map_err(TokenizeError::from)?;
        Ok(enc
            .get_ids()
            .iter()
            .zip(enc.get_offsets())
            .zip(enc.get_special_tokens_mask())
            .zip(enc.get_tokens())
            .map(|(((&id, &(start, stop)), &special), token)| {
                if special == 1 {
                    TokenSpan {
                        id,
                        text: token.clone(),
                        special: true,
                        start: None,
                        stop: None,
                    }
                } else {
                    TokenSpan {
                        id,
                        // Offsets are byte offsets on char boundaries; a tokenizer that
                        // split a character would get the token's own spelling instead.
                        text: input
                            .get(start..stop)
                            .map_or_else(|| token.clone(), str::to_string),
                        special: false,
                        start: Some(start),
                        stop: Some(stop),
                    }
                }
            })
            .collect())
    }
}
