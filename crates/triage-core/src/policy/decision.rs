//! What the policy answers for one message: the action, why, how urgent, which team.
//! These are also the wire types of the `handoff` field of `/v1/classify` and of the
//! stored turns, so their spelling is part of the API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the bot should do with the message. Ordered: a rule asking for more wins over
/// one asking for less.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The bot answers.
    Bot,
    /// The bot asks the customer to rephrase, pick one of two meanings, or confirm.
    Clarify,
    /// A human takes the conversation over.
    Handoff,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Bot => "bot",
            Action::Clarify => "clarify",
            Action::Handoff => "handoff",
        }
    }
}

/// Queue priority of the conversation should it reach a human.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// Incident class, as omnichannel service teams grade tickets; each has a response-time
/// target in the policy file.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A routine request.
    #[default]
    Basic,
    /// Needs a specialist: complaints, disputes, bans, compliance, sensitive operations.
    Complex,
    /// Many customers hit by the same problem at once.
    Major,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Basic => "basic",
            Severity::Complex => "complex",
            Severity::Major => "major",
        }
    }
}

/// Machine-readable reason codes, one per rule, plus notices that change no action
/// (`memory_unavailable`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    LowConfidence,
    Ambiguous,
    OutOfScope,
    HumanRequested,
    ComplexIntent,
    NegativeEmotion,
    RisingNegativity,
    RepeatedFailure,
    CustomerTier,
    SensitiveOperation,
    Surge,
    ChannelOverride,
    /// The conversation store could not be reached: decided without history.
    MemoryUnavailable,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 13] = [
        ReasonCode::LowConfidence,
        ReasonCode::Ambiguous,
        ReasonCode::OutOfScope,
        ReasonCode::HumanRequested,
        ReasonCode::ComplexIntent,
        ReasonCode::NegativeEmotion,
        ReasonCode::RisingNegativity,
        ReasonCode::RepeatedFailure,
        ReasonCode::CustomerTier,
        ReasonCode::SensitiveOperation,
        ReasonCode::Surge,
        ReasonCode::ChannelOverride,
        ReasonCode::MemoryUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::LowConfidence => "low_confidence",
            ReasonCode::Ambiguous => "ambiguous",
            ReasonCode::OutOfScope => "out_of_scope",
            ReasonCode::HumanRequested => "human_requested",
            ReasonCode::ComplexIntent => "complex_intent",
            ReasonCode::NegativeEmotion => "negative_emotion",
            ReasonCode::RisingNegativity => "rising_negativity",
            ReasonCode::RepeatedFailure => "repeated_failure",
            ReasonCode::CustomerTier => "customer_tier",
            ReasonCode::SensitiveOperation => "sensitive_operation",
            ReasonCode::Surge => "surge",
            ReasonCode::ChannelOverride => "channel_override",
            ReasonCode::MemoryUnavailable => "memory_unavailable",
        }
    }
}

impl std::str::FromStr for ReasonCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReasonCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = ReasonCode::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "unknown reason code {s:?}: expected one of {}",
                    all.join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    pub code: ReasonCode,
    /// For people: the figures and the threshold that made the rule fire.
    pub detail: String,
}

/// The policy's answer for one message (the `handoff` field of a classify response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    /// What to do. In shadow mode always `bot`; the policy's own choice is in `shadow`.
    pub action: Action,
    pub priority: Priority,
    pub severity: Severity,
    /// The severity's response-time target from the policy file, in seconds.
    pub response_time_secs: u64,
    /// Team that should take the conversation.
    pub skill_group: String,
    /// Every rule that fired, in rule order.
    pub reasons: Vec<Reason>,
    /// What the conversation is about, when the turn says so: the confident intent, or
    /// the complex/sensitive group a phrase matched. Also the key for surge detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    /// Shadow mode only: the action the policy would have taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Action>,
}

impl Decision {
    /// The action the policy chose, whether or not it is enforced.
    pub fn policy_action(&self) -> Action {
        self.shadow.unwrap_or(self.action)
    }

    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    pub fn codes(&self) -> Vec<ReasonCode> {
        self.reasons.iter().map(|r| r.code).collect()
    }
}
