//! The handoff context package (`GET /v1/conversations/{id}`): a conversation's turns
//! summed up for the agent who takes it over.

use super::decision::{Action, Decision, Priority, ReasonCode, Severity};
use super::feedback::Feedback;
use super::turn::{Customer, ShownSuggestion, StoredTurn};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/conversations/{id}`: everything the agent taking over needs, so that the
/// customer never repeats themselves.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationContext {
    conversation_id: String,
    /// The customer reference and tier, as last given.
    customer: Option<Customer>,
    /// What the conversation is about: the latest turn's recognised issue type.
    issue_type: Option<String>,
    /// The latest decision (why the conversation is being handed over, to whom).
    pub handoff: Decision,
    /// Every reason code that fired in the conversation, first occurrence first.
    pub reasons_seen: Vec<ReasonCode>,
    /// Knowledge-base answers already shown, first occurrence first.
    pub suggested: Vec<ShownSuggestion>,
    first_at_ms: u64,
    last_at_ms: u64,
    /// The turns, oldest first.
    pub turns: Vec<StoredTurn>,
    /// Feedback on suggestions and intents (`POST /v1/feedback`), oldest first.
    #[serde(default)]
    pub feedback: Vec<Feedback>,
}

impl ConversationContext {
    /// Builds the package from a conversation's turns (oldest first, at least one).
    pub(crate) fn from_turns(id: &str, turns: Vec<StoredTurn>) -> Self {
        let customer = turns.iter().rev().find_map(|t| t.customer.clone());
        let issue_type = turns
            .iter()
            .rev()
            .find_map(|t| t.handoff.issue_type.clone());
        let mut reasons_seen: Vec<ReasonCode> = Vec::new();
        let mut suggested: Vec<ShownSuggestion> = Vec::new();
        for t in &turns {
            for r in &t.handoff.reasons {
                if !reasons_seen.contains(&r.code) {
                    reasons_seen.push(r.code);
                }
            }
            for s in &t.suggestions_shown {
                if !suggested.iter().any(|x| x.id == s.id) {
                    suggested.push(s.clone());
                }
            }
        }
        let first_at_ms = turns.first().map_or(0, |t| t.at_ms);
        let last_at_ms = turns.last().map_or(0, |t| t.at_ms);
        let handoff = turns
            .last()
            .map(|t| t.handoff.clone())
            .unwrap_or_else(|| Decision {
                action: Action::Bot,
                priority: Priority::Normal,
                severity: Severity::Basic,
                response_time_secs: 0,
                skill_group: String::new(),
                reasons: vec![],
                issue_type: None,
                shadow: None,
            });
        Self {
            conversation_id: id.to_string(),
            customer,
            issue_type,
            handoff,
            reasons_seen,
            suggested,
            first_at_ms,
            last_at_ms,
            turns,
            feedback: Vec::new(),
        }
    }

    pub(crate) fn with_feedback(mut self, feedback: Vec<Feedback>) -> Self {
        self.feedback = feedback;
        self
    }
}
