//! Model bundles: loading (local, Hub, plain classifier), the BERT encoder, tokenizer,
//! heads, and writing new bundles.

pub mod backend;
pub mod bert;
pub mod bundle;
mod config;
pub mod fast;
pub mod heads;
mod hub;
pub mod manifest;
mod tokenize;
pub mod writer;

pub use backend::{Backend, BackendError};
pub use bundle::{Bundle, BundleError};
pub use heads::{EmotionResult, Head, IntentResult, LabelScore, Sentiment};
pub use manifest::{HeadKind, HeadSpec, LanguageReading, Manifest};
pub use tokenize::{Encoded, TextTokenizer, TokenSpan};
