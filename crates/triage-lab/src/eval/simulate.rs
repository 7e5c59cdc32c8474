//! The policy as the evaluation's handoff decider: `triage eval` runs its labelled
//! handoff set through the same rules the server applies, so the containment and
//! wrong-answer figures it reports are the ones the configured policy will produce.
//!
//! Each simulated message is a conversation of its own (no history, no customer tier, no
//! surge count): the figures measure the single-turn rules. The evaluation's sweep moves
//! `low_confidence.threshold` and keeps everything else as configured.

use crate::eval::{HandoffDecider, HandoffRequest};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use triage_core::api::ClassifyResponse;
use triage_core::policy::{Action, Policy, PolicyConfig, PolicyError, TurnInput};

pub(crate) struct PolicyDecider {
    config: PolicyConfig,
    source: String,
    languages: Vec<String>,
    threshold: f32,
    /// Compiled policies by threshold (bits of the f32): the sweep asks for the same
    /// twenty-odd thresholds once per message.
    compiled: Mutex<HashMap<u32, Arc<Policy>>>,
}

impl PolicyDecider {
    /// The policy in `path`, for a bundle covering `languages`. `threshold`, when given,
    /// replaces the file's `low_confidence.threshold` as the configured operating point.
    pub(crate) fn from_file(
        path: &Path,
        languages: Vec<String>,
        threshold: Option<f32>,
    ) -> Result<Self, PolicyError> {
        let mut config = PolicyConfig::load(path)?;
        if let Some(t) = threshold {
            config.low_confidence.threshold = t;
        }
        let policy = Policy::new(config.clone()).map_err(|message| PolicyError::Invalid {
            file: path.to_path_buf(),
            message,
        })?;
        let threshold = config.low_confidence.threshold;
        let compiled = HashMap::from([(threshold.to_bits(), Arc::new(policy))]);
        Ok(Self {
            config,
            source: path.display().to_string(),
            languages,
            threshold,
            compiled: Mutex::new(compiled),
        })
    }

    /// The policy with `low_confidence.threshold` set to `threshold`; `None` if that
    /// threshold does not make a valid policy (outside 0..=1).
    fn at(&self, threshold: f32) -> Option<Arc<Policy>> {
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(&threshold.to_bits()) {
            return Some(p.clone());
        }
        let mut config = self.config.clone();
        config.low_confidence.threshold = threshold;
        let policy = Arc::new(Policy::new(config).ok()?);
        cache.insert(threshold.to_bits(), policy.clone());
        Some(policy)
    }
}

impl HandoffDecider for PolicyDecider {
    fn name(&self) -> String {
        format!("policy {}", self.source)
    }

    fn threshold(&self) -> f32 {
        self.threshold
    }

    fn decide(
        &self,
        request: &HandoffRequest<'_>,
        response: &ClassifyResponse,
        threshold: f32,
    ) -> Action {
        // An invalid swept threshold hands off: the safe side for a customer.
        let Some(policy) = self.at(threshold) else {
            return Action::Handoff;
        };
        let mut turn = TurnInput::from_response(request.text, response, None, &self.languages);
        turn.channel = request.channel;
        policy.decide(&turn, &[], 0).action
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::api::ModelInfo;
    use triage_core::model::{IntentResult, LabelScore};
    use triage_core::text::Channel;

    fn resp(label: &str, confidence: f32) -> ClassifyResponse {
        let top = vec![
            LabelScore {
                label: label.into(),
                score: confidence,
            },
            LabelScore {
                label: "other".into(),
                score: (1.0 - confidence) / 2.0,
            },
        ];
        ClassifyResponse {
            intent: Some(IntentResult {
                set: "support".into(),
                label: label.into(),
                confidence,
                out_of_scope: false,
                top,
            }),
            emotion: None,
            channel: "chat".into(),
            lang: "en".into(),
            conversation_id: None,
            handoff: None,
            suggestions: None,
            bot_answer: None,
            model: ModelInfo {
                name: "m".into(),
                version: "0".into(),
            },
            timing_ms: 0.0,
        }
    }

    fn decider(threshold: Option<f32>) -> PolicyDecider {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/policy.toml");
        PolicyDecider::from_file(&file, vec!["en".into()], threshold).unwrap()
    }

    fn req(text: &str) -> HandoffRequest<'_> {
        HandoffRequest {
            text,
            channel: Channel::Chat,
        }
    }

    #[test]
    fn the_policy_rules_decide_not_the_threshold_alone() {
        let d = decider(None);
        let t = d.threshold();
        let routine = req("where is my order");
        assert_eq!(
            d.decide(&routine, &resp("track_order", 0.95), t),
            Action::Bot
        );
        // Confident routine intent, but the customer asks for a person: the phrase rule.
        let human = req("let me talk to a real person please");
        assert_eq!(
            d.decide(&human, &resp("track_order", 0.95), t),
            Action::Handoff
        );
        // The sweep's threshold replaces the configured one.
        assert_ne!(
            d.decide(&routine, &resp("track_order", 0.6), 0.9),
            Action::Bot
        );
        assert_eq!(
            d.decide(&routine, &resp("track_order", 0.6), 0.5),
            Action::Bot
        );
        // An impossible swept threshold hands off instead of panicking.
        assert_eq!(
            d.decide(&routine, &resp("track_order", 0.95), 2.0),
            Action::Handoff
        );
    }

    #[test]
    fn a_suite_threshold_overrides_the_file() {
        assert_eq!(decider(Some(0.42)).threshold(), 0.42);
        assert!(PolicyDecider::from_file(Path::new("no/such/policy.toml"), vec![], None).is_err());
    }
}
