//! The subset of a Hugging Face BERT `config.json` the encoder needs. Unknown keys are
//! ignored so configs written by newer `transformers` versions still load.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub(crate) num_hidden_layers: usize,
    pub(crate) num_attention_heads: usize,
    pub(crate) intermediate_size: usize,
    #[serde(default = "default_act")]
    pub(crate) hidden_act: String,
    pub(crate) max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub(crate) layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Present on `BertForSequenceClassification` checkpoints: their one head's labels.
    #[serde(default)]
    pub(crate) id2label: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) architectures: Option<Vec<String>>,
    #[serde(default)]
    model_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_dropout() -> f64 {
    0.1
}

impl BertConfig {
    pub(crate) fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Rejects configs the encoder would silently mis-compute.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.model_type.as_deref().is_some_and(|t| t != "bert") {
            return Err(format!(
                "model_type {:?} is not supported (only \"bert\")",
                self.model_type
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if !matches!(
            self.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu"
        ) {
            return Err(format!("hidden_act {:?} is not supported", self.hidden_act));
        }
        Ok(())
    }
}
