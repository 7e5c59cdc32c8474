//! One bundle's classification pipeline, a step per module in the order a message
//! takes: text → `prepare` (validate, normalise, detect the language, tokenize) →
//! batch/encode (engine) → `respond` (heads) → `suggest` (knowledge base) →
//! `decide` (handoff policy and conversation memory) → response. `run` holds the
//! entry points, which share that one path; `embed` the encoder's other uses
//! (offline embeddings, `/v1/embed`, the knowledge base's articles); [`expand`] turns a
//! wire request into its items. Validation happens first and for every input of a batch
//! before any work is queued, so a bad item rejects the request without wasting encoder
//! time.
//!
//! The wire types (`crate::api`) come in at `prepare` and go out of `respond`: the
//! steps in between work on [`Prepared`] and the per-message state the later steps need.

mod decide;
mod embed;
mod expand;
mod prepare;
mod respond;
mod run;
mod suggest;

pub use expand::expand;
pub use prepare::{check_conversation_id, check_customer_id, check_lang, Normalised, Prepared};

use crate::api::ModelInfo;
use crate::config::Config;
use crate::engine::Engine;
use crate::model::bundle::BundleFiles;
use crate::model::fast::{EncoderInfo, FastEncoder, Isa};
use crate::model::{Bundle, Head, HeadKind, Manifest, TextTokenizer};
use crate::policy::HandoffService;
use crate::text::NormalizeOptions;
use std::sync::Arc;

pub struct Classifier {
    pub manifest: Manifest,
    pub files: BundleFiles,
    tokenizer: TextTokenizer,
    heads: Vec<Head>,
    engine: Engine,
    encoder_info: EncoderInfo,
    normalize: NormalizeOptions,
    config: Config,
    emotion_head: Option<usize>,
    handoff: Option<Arc<HandoffService>>,
}

impl Classifier {
    pub fn new(bundle: Bundle, config: Config) -> Self {
        let Bundle {
            manifest,
            tokenizer,
            encoder,
            heads,
            files,
            ..
        } = bundle;
        let normalize = NormalizeOptions {
            // BERT's uncased vocabulary has no emoji: spell them out so "😡" still counts.
            emoji_to_words: tokenizer.is_unknown("😡"),
            to_simplified: true,
        };
        let emotion_head = heads
            .iter()
            .position(|h| h.spec.name == "emotion" && h.spec.kind == HeadKind::Sigmoid);
        // The CLI refuses a forced tier the CPU lacks before anything loads; a library
        // caller who forces one gets the best tier and an error in the log.
        let isa = Isa::resolve(config.isa).unwrap_or_else(|e| {
            tracing::error!(error = %e, "using the best instruction set instead");
            Isa::best()
        });
        let kind = config.encoder.resolve(isa);
        let mut encoder_info = EncoderInfo::candle();
        let backend: Arc<dyn crate::model::Backend> = match kind.precision() {
            None => Arc::new(encoder),
            Some(precision) => {
                let threads = config.threads.unwrap_or(0);
                match FastEncoder::with_isa(&encoder, precision, threads, isa) {
                    Ok(fast) => {
                        encoder_info = EncoderInfo {
                            kind,
                            isa: Some(fast.isa()),
                            threads: Some(fast.threads()),
                        };
                        Arc::new(fast)
                    }
                    Err(e) => {
                        // Cannot happen for weights candle loaded; serve rather than fail.
                        tracing::error!(
                            error = %crate::cause::chain(&e).join("; "),
                            "fast encoder unavailable, using candle"
                        );
                        Arc::new(encoder)
                    }
                }
            }
        };
        tracing::info!(
            model = %manifest.name,
            encoder = encoder_info.kind.as_str(),
            isa = encoder_info.isa.map_or("-", Isa::as_str),
            threads = encoder_info.threads.unwrap_or(0),
            configured = config.encoder.as_str(),
            "encoder ready"
        );
        let engine = Engine::start(backend, config.engine.clone());
        Self {
            manifest,
            files,
            tokenizer,
            heads,
            engine,
            encoder_info,
            normalize,
            config,
            emotion_head,
            handoff: None,
        }
    }

    /// Attaches the handoff policy and conversation memory: every response then carries
    /// a `handoff` decision and turns with a `conversation_id` are remembered.
    pub fn with_handoff(mut self, handoff: Arc<HandoffService>) -> Self {
        self.handoff = Some(handoff);
        self
    }

    pub fn handoff(&self) -> Option<&Arc<HandoffService>> {
        self.handoff.as_ref()
    }

    /// The encoder this classifier runs (kind, kernel tier, threads).
    pub fn encoder_info(&self) -> EncoderInfo {
        self.encoder_info
    }

    pub fn model_info(&self) -> ModelInfo {
        ModelInfo {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
        }
    }

    pub fn heads(&self) -> &[Head] {
        &self.heads
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn intent_sets(&self) -> Vec<String> {
        self.heads
            .iter()
            .filter_map(|h| h.spec.name.strip_prefix("intent.").map(String::from))
            .collect()
    }

    /// Whether the bundle was trained for `lang`: if not, its intent and emotion scores
    /// are not trusted (by the policy, and for suggestions).
    pub fn covers_lang(&self, lang: &str) -> bool {
        self.manifest.languages.iter().any(|l| l == lang)
    }

    /// The bundle's tokenizer (token listings for `/tokenize`).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }
}
