//! The one thing the batching engine needs from a model: embeddings for a batch of
//! tokenized texts. A small trait (as in text-embeddings-inference's backends) so the
//! engine can be tested and later served by a quantised encoder without changes.

use super::bert::{BatchInput, BertModel};
use super::tokenize::Encoded;
use crate::cause::Detail;
use candle_core::{Device, Tensor};
use ndarray::Array2;

/// The encoder's failure; the candle error underneath, when there is one, is the source.
#[derive(Debug, thiserror::Error)]
#[error("encoder failed: {0}")]
pub struct BackendError(#[source] pub(crate) Detail);

impl From<candle_core::Error> for BackendError {
    fn from(e: candle_core::Error) -> Self {
        BackendError(Detail::of(e))
    }
}

pub trait Backend: Send + Sync + 'static {
    /// Normalised sentence embeddings `[batch.len(), hidden]`, in input order.
    fn embed(&self, batch: &[&Encoded]) -> Result<Array2<f32>, BackendError>;
    fn hidden_size(&self) -> usize;
}

/// Pads a batch to its longest item (pad id 0 is masked out, so its value is irrelevant).
fn pad_batch(batch: &[&Encoded], device: &Device) -> candle_core::Result<BatchInput> {
    let n = batch.len();
    let seq = batch.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![0u32; n * seq];
    let mut type_ids = vec![0u32; n * seq];
    let mut mask = vec![0u32; n * seq];
    for (row, enc) in batch.iter().enumerate() {
        if enc.type_ids.len() != enc.len() {
            return Err(candle_core::Error::Msg(
                "ids and type ids differ in length".into(),
            ));
        }
        let base = row * seq;
        ids[base..base + enc.len()].copy_from_slice(&enc.ids);
        type_ids[base..base + enc.len()].copy_from_slice(&enc.type_ids);
        mask[base..base + enc.len()].fill(1);
    }
    Ok(BatchInput {
        ids: Tensor::from_vec(ids, (n, seq), device)?,
        type_ids: Tensor::from_vec(type_ids, (n, seq), device)?,
        mask: Tensor::from_vec(mask, (n, seq), device)?,
    })
}

/// Candle's per-token hidden states after the first `k` layers, one `[len·h]` vector per
/// item with the padding cut off: the same shape as `FastEncoder::hidden_after`, so
/// training's frozen-layer cache and the tests that compare the two see one form.
pub fn candle_hidden_after(
    model: &BertModel,
    batch: &[&Encoded],
    k: usize,
) -> Result<Vec<Vec<f32>>, BackendError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let input = pad_batch(batch, &Device::Cpu)?;
    let hidden = model.hidden_after(&input, k, false)?;
    let (_, s, h) = hidden.dims3()?;
    let flat = hidden.flatten_all()?.to_vec1::<f32>()?;
    Ok(batch
        .iter()
        .enumerate()
        .map(|(row, e)| flat[row * s * h..(row * s + e.len()) * h].to_vec())
        .collect())
}

impl Backend for BertModel {
    fn embed(&self, batch: &[&Encoded]) -> Result<Array2<f32>, BackendError> {
        if batch.is_empty() {
            return Ok(Array2::zeros((0, self.config.hidden_size)));
        }
        let input = pad_batch(batch, &Device::Cpu)?;
        let emb = self.sentence_embeddings(&input, false)?;
        let (n, h) = emb.dims2()?;
        let flat = emb.flatten_all()?.to_vec1::<f32>()?;
        Array2::from_shape_vec((n, h), flat).map_err(|e| BackendError(Detail::of(e)))
    }

    fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
}
