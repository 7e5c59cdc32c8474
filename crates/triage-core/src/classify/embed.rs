//! The encoder's uses besides classifying: embeddings of many texts offline (training,
//! evaluation, the knowledge base's articles, through [`crate::kb::Embedder`]) and the
//! texts of `/v1/embed`, each normalised as a request would be.

use super::Classifier;
use crate::error::TriageError;
use crate::model::Encoded;
use crate::text::{self, Channel};
use ndarray::Array2;
use sha2::{Digest, Sha256};
use std::io::Read;

impl Classifier {
    /// Embeddings of many texts (training, evaluation), each normalised for its channel
    /// exactly as a request would be. Texts are sent to the engine sorted by length so
    /// batches carry little padding; rows come back in input order.
    pub fn embed_offline(
        &self,
        texts: &[(String, Channel)],
        progress: &dyn crate::progress::Progress,
    ) -> Result<Array2<f32>, TriageError> {
        let hidden = self.engine.hidden_size();
        let encs: Vec<Encoded> = texts
            .iter()
            .map(|(t, ch)| {
                let n = self.normalize_text(t, *ch);
                self.tokenizer.encode(&n).map_err(TriageError::internal)
            })
            .collect::<Result<_, _>>()?;
        let mut order: Vec<usize> = (0..encs.len()).collect();
        order.sort_by_key(|&i| encs[i].len());
        let mut out = Array2::zeros((texts.len(), hidden));
        // Chunks of at most half the queue (texts and tokens): a small configured queue
        // slows indexing down rather than refusing it, and live requests keep room.
        let limits = self.engine.config();
        let max_texts = (limits.queue_capacity / 2).clamp(1, 256);
        let max_tokens = (limits.queue_tokens / 2).max(1);
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut tokens = 0;
        for &i in &order {
            let len = encs[i].len();
            match chunks.last_mut() {
                Some(c) if c.len() < max_texts && tokens + len <= max_tokens => {
                    c.push(i);
                    tokens += len;
                }
                _ => {
                    chunks.push(vec![i]);
                    tokens = len;
                }
            }
        }
        for chunk in &chunks {
            let batch = chunk.iter().map(|&i| encs[i].clone()).collect();
            let rows = self.engine.embed_blocking(batch)?;
            for (&i, row) in chunk.iter().zip(rows.outer_iter()) {
                out.row_mut(i).assign(&row);
            }
            progress.inc(chunk.len() as u64);
        }
        Ok(out)
    }

    /// Tokenizes texts for `/v1/embed` (normalised as chat, prefix applied).
    pub fn encode_texts(&self, texts: &[String]) -> Result<Vec<Encoded>, TriageError> {
        Ok(self
            .encode_texts_checked(texts)?
            .into_iter()
            .map(|(e, _)| e)
            .collect())
    }

    /// [`Self::encode_texts`], also saying of each text whether it was cut at the
    /// bundle's `max_seq_len` (for APIs whose clients ask for an error instead).
    pub fn encode_texts_checked(
        &self,
        texts: &[String],
    ) -> Result<Vec<(Encoded, bool)>, TriageError> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                self.check_text(Some(t)).map_err(|e| e.at(i))?;
                self.tokenizer
                    .encode_checked(&self.embed_text(t))
                    .map_err(TriageError::internal)
            })
            .collect()
    }

    /// A text as the encoder reads it for `/v1/embed`: normalised as chat, or as given
    /// when normalisation leaves nothing (the bundle's prefix is added by the tokenizer).
    pub fn embed_text(&self, t: &str) -> String {
        let n = text::normalize(t, Channel::Chat, &self.normalize);
        if n.trim().is_empty() {
            t.to_string()
        } else {
            n
        }
    }
}

// The knowledge base embeds its articles through this bundle's pipeline.
/// Articles are embedded exactly as a chat message would be (same normalisation and
/// prefix), so query and article vectors live in the same space.
impl crate::kb::Embedder for Classifier {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, crate::kb::EmbedError> {
        let items: Vec<(String, Channel)> =
            texts.iter().map(|t| (t.clone(), Channel::Chat)).collect();
        let bar = crate::progress::bar(items.len() as u64, "kb index");
        let out = self.embed_offline(&items, &*bar)?;
        bar.finish();
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
            crate::kb::source::hex(&h.finalize())
        )
    }
}
