//! What the knowledge base needs from an encoder: embeddings of article texts, and a
//! fingerprint that changes whenever those embeddings would (the disk cache's key).

use crate::cause::Detail;
use ndarray::Array2;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct EmbedError(#[source] pub Detail);

pub trait Embedder: Send + Sync {
    /// L2-normalised embeddings, one row per text, in order.
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, EmbedError>;
    /// Identifies the model *and* its weights: equal fingerprints must mean equal
    /// embeddings for equal texts.
    fn fingerprint(&self) -> String;
}
