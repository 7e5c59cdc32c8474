//! The channels a message can arrive on. Each has its own noise (fillers in voice
//! transcripts, hashtags in social posts, quoted replies in email), so normalisation and
//! parts of the handoff policy switch on it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    #[default]
    Chat,
    Voice,
    Email,
    Social,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Chat,
        Channel::Voice,
        Channel::Email,
        Channel::Social,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Voice => "voice",
            Channel::Email => "email",
            Channel::Social => "social",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error names the accepted values so an API caller can fix the request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown channel {0:?}: expected one of chat, voice, email, social")]
pub struct UnknownChannel(String);

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chat" => Ok(Channel::Chat),
            "voice" => Ok(Channel::Voice),
            "email" => Ok(Channel::Email),
            "social" => Ok(Channel::Social),
            _ => Err(UnknownChannel(s.to_string())),
        }
    }
}
