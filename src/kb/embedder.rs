//! What the knowledge base needs from an encoder: embeddings of article texts, and a
//! fingerprint that changes whenever those embeddings would (the disk cache's key).

use crate::classify::Classifier;
use crate::text::Channel;
use ndarray::Array2;
use sha2::{Digest, Sha256};
use std::io::Read;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EmbedError(pub String);

impl From<crate::error::TriageError> for EmbedError {
    fn from(e: crate::error::TriageError) -> Self {
        EmbedError(e.to_string())
    }
}

pub trait Embedder: Send + Sync {
    /// L2-normalised embeddings, one row per text, in order.
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError>;
    /// Identifies the model *and* its weights: equal fingerprints must mean equal
    /// embeddings for equal texts.
    fn fingerprint(&self) -> String;
}

/// Articles are embedded exactly as a chat message would be (same normalisation and
/// prefix), so query and article vectors live in the same space.
impl Embedder for Classifier {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError> {
        let items: Vec<(String, Channel)> =
            texts.iter().map(|t| (t.clone(), Channel::Chat)).collect();
        let bar = crate::cli::progress_bar(items.len() as u64, "kb index");
        let out = self.embed_offline(&items, &bar)?;
        bar.finish_and_clear();
        Ok(out)
    }

    /// Name, version, and the sha256 of the weights, tokenizer and manifest: a retrained
    /// bundle that kept its name and version still gets a new cache.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let files = [
            Some(&self.files.weights),
            Some(&self.files.tokenizer),
            self.files.manifest.as_ref(),
        ];
        for path in files.into_iter().flatten() {
            h.update(
                path.file_name()
                    .map(|n| n.as_encoded_bytes())
                    .unwrap_or(b""),
            );
            match std::fs::File::open(path) {
                Ok(mut f) => {
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        match f.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => h.update(&buf[..n]),
                            Err(_) => {
                                h.update(b"unreadable");
                                break;
                            }
                        }
                    }
                }
                Err(_) => h.update(b"missing"),
            }
        }
        // Vectors of the fast encoders differ from candle's (int8 by design); candle keeps
        // the fingerprints of existing caches.
        let encoder = self.encoder_info();
        if encoder.kind != crate::model::fast::EncoderKind::Candle {
            h.update(b"encoder-");
            h.update(encoder.cache_tag());
        }
        format!(
            "{}@{}:{}",
            self.manifest.name,
            self.manifest.version,
            super::source::hex(&h.finalize())
        )
    }
}
