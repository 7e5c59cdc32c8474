//! The canonical labelled record (DESIGN.md "Data"): what every data set adapter produces
//! and the JSONL format users bring their own data in.

use serde::{Deserialize, Serialize};
use triage_core::text::Channel;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Record {
    pub text: String,
    #[serde(default)]
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Multi-label emotions; `Some(vec![])` means "labelled, no emotion" (goemotions'
    /// `neutral` is kept as a label of its own, as in the data set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
}

/// Which part of a data set. Sets without an official split get a deterministic one by
/// hash of the text (see each adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "train" => Ok(Split::Train),
            "dev" | "val" | "valid" | "validation" | "devel" => Ok(Split::Dev),
            "test" => Ok(Split::Test),
            other => Err(format!(
                "unknown split {other:?}: expected train, dev or test"
            )),
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        })
    }
}
