//! On-disk cache of frozen-encoder embeddings. Fitting several heads, or re-running a
//! recipe, embeds the same texts with the same encoder again and again; on two cores
//! that is minutes each time. The key covers everything that changes an embedding: the
//! weights' hash, tokenizer, prefix, max length, and every (text, channel) pair.

use ndarray::Array2;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use triage_core::classify::Classifier;
use triage_core::error::TriageError;
use triage_core::text::Channel;

pub(crate) use triage_core::config::cache_dir;

fn file_hash(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

fn key(c: &Classifier, texts: &[(String, Channel)]) -> std::io::Result<String> {
    let mut h = Sha256::new();
    h.update(file_hash(&c.files.weights)?);
    h.update(file_hash(&c.files.tokenizer)?);
    h.update(c.manifest.prefix.as_bytes());
    h.update(c.manifest.max_seq_len.to_le_bytes());
    h.update(b"normalize-v1");
    // The candle and fast encoders differ (int8 by design); candle keeps the old keys.
    let encoder = c.encoder_info();
    if encoder.kind != triage_core::model::fast::EncoderKind::Candle {
        h.update(b"encoder-");
        h.update(encoder.cache_tag());
    }
    for (t, ch) in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
        h.update(ch.as_str());
    }
    Ok(format!("{:x}", h.finalize()))
}

fn read(path: &Path, n: usize, h: usize) -> Option<Array2<f32>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != n * h * 4 {
        return None;
    }
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Array2::from_shape_vec((n, h), v).ok()
}

/// Embeddings of `texts` from the cache, or computed (with a progress bar on a terminal)
/// and stored. A cache that cannot be written only costs time next run.
pub fn embed_cached(
    c: &Classifier,
    texts: &[(String, Channel)],
    what: &str,
) -> Result<Array2<f32>, TriageError> {
    let h = c.engine().hidden_size();
    let key = key(c, texts).map_err(TriageError::internal)?;
    let path = cache_dir().join(format!("emb-{key}.f32"));
    if let Some(a) = read(&path, texts.len(), h) {
        tracing::info!(what, n = texts.len(), "embeddings from cache");
        return Ok(a);
    }
    let bar = triage_core::progress::bar(texts.len() as u64, what);
    let started = std::time::Instant::now();
    let emb = c.embed_offline(texts, &*bar)?;
    bar.finish();
    tracing::info!(
        what,
        n = texts.len(),
        secs = started.elapsed().as_secs_f64(),
        per_sec = texts.len() as f64 / started.elapsed().as_secs_f64().max(1e-9),
        "embedded"
    );
    let bytes: Vec<u8> = emb.iter().flat_map(|v| v.to_le_bytes()).collect();
    if std::fs::create_dir_all(cache_dir())
        .and_then(|_| std::fs::write(&path, bytes))
        .is_err()
    {
        tracing::warn!(path = %path.display(), "could not write the embedding cache");
    }
    Ok(emb)
}
