//! The rules: a pure function from a message (with its classifier outputs) and the
//! conversation so far to a [`Decision`]. No clock, store or lock in here: the stateful
//! parts (history, surge counts) arrive as arguments, so the evaluation can call
//! [`Policy::decide`] on a single message and tests can script whole conversations.
//!
//! Channel and tier adjustments are evaluated as counterfactuals: the rules run with the
//! plain thresholds, with the channel's, and with the channel's and the tier's; when an
//! adjustment changed the outcome, `channel_override` or `customer_tier` says how. That
//! keeps every threshold in one place and the reasons honest.
//!
//! # One file per rule
//!
//! Each rule is a file of this folder implementing `Rule`: it reads the turn's
//! `Facts` under the thresholds in force (`Params`) and adds what it finds to the
//! list of fired rules. `RULES` runs them in this order:
//!
//! 1. `ambiguity`: the model is torn between two intents (`ambiguous`);
//! 2. `low_confidence`: the model is lost (`low_confidence`), unless it was torn;
//! 3. `out_of_scope`: nothing the bot knows (`out_of_scope`);
//! 4. `human_requested`: the customer asks for a person (`human_requested`);
//! 5. `complex_issue`: an issue type a specialist team handles (`complex_intent`);
//! 6. `sensitive_operation`: an operation the bot never performs alone
//!    (`sensitive_operation`);
//! 7. `negative_emotion`: the customer is upset now (`negative_emotion`);
//! 8. `rising_negativity`: the customer is getting more upset (`rising_negativity`);
//! 9. `surge`: many conversations about one issue at once (`surge`);
//! 10. `repeated_failure`: this turn failed after a streak of failures
//!     (`repeated_failure`).
//!
//! The order matters for three things, and is otherwise free:
//!
//! * reasons are reported in rule order (`Decision::reasons`), so the order is part of
//!   the API's output, and `outcome::describe_change` names the reasons an adjustment
//!   made fire in that order too;
//! * a rule may read what the rules before it fired: low confidence stays silent when
//!   ambiguity fired (the bot offers two choices or asks to rephrase, never both), and
//!   repeated failure asks whether this turn failed (it clarifies, or the model did not
//!   understand), so it comes after every rule that can make it fail;
//! * when several fired rules name a team, the highest `outcome::TeamRank` wins, and
//!   among equals the last to fire (the last matching `[[complex]]` group, say).
//!
//! What does not depend on the order is settled afterwards from the whole list
//! (`outcome::Outcome::settle`): the action is the highest any rule asks for
//! (handoff > clarify > bot), then the channel's and tier's `clarify_to_handoff` and
//! `clarify_first`; priority and severity are the highest of the fired rules.
//!
//! Adding a rule: a reason code ([`ReasonCode`]), its settings in
//! [`PolicyConfig`], a file here implementing `Rule`, and one line in `RULES`.

mod ambiguity;
mod complex_issue;
mod human_requested;
mod low_confidence;
mod negative_emotion;
mod out_of_scope;
mod outcome;
mod repeated_failure;
mod rising_negativity;
mod sensitive_operation;
mod surge;

use super::config::{Adjustment, Mode, PolicyConfig};
use super::decision::{Action, Decision, Priority, Reason, ReasonCode};
use super::phrases::{PhraseHit, PhraseMatcher};
use super::turn::{StoredTurn, TurnInput};
use super::PolicyError;
use crate::model::{EmotionResult, IntentResult};
use outcome::{describe_change, Fired, Outcome};
use std::path::Path;

/// One handoff rule. `apply` adds what the rule finds about the turn, under the
/// thresholds in force, to `fired`, which holds what the rules before it found (in
/// `RULES` order). A rule never removes or changes another's finding.
trait Rule: Sync {
    fn apply(&self, f: &Facts, p: &Params, fired: &mut Vec<Fired>);
}

/// Every rule, in the order they run (see the module documentation for why it matters).
static RULES: [&dyn Rule; 10] = [
    &ambiguity::Ambiguity,
    &low_confidence::LowConfidence,
    &out_of_scope::OutOfScope,
    &human_requested::HumanRequested,
    &complex_issue::ComplexIssue,
    &sensitive_operation::SensitiveOperation,
    &negative_emotion::NegativeEmotion,
    &rising_negativity::RisingNegativity,
    &surge::Surge,
    &repeated_failure::RepeatedFailure,
];

/// Reasons a voice turn hands off for at once even with `clarify_first`, unless the
/// channel lists its own.
const CLARIFY_FIRST_UNLESS: &[ReasonCode] = &[
    ReasonCode::HumanRequested,
    ReasonCode::SensitiveOperation,
    ReasonCode::Surge,
    ReasonCode::NegativeEmotion,
    ReasonCode::RisingNegativity,
    ReasonCode::RepeatedFailure,
];

/// A checked policy with its phrase lists compiled.
pub struct Policy {
    config: PolicyConfig,
    human_phrases: PhraseMatcher,
    complex: Vec<PhraseMatcher>,
    sensitive: Vec<PhraseMatcher>,
    lexicon: PhraseMatcher,
}

/// The thresholds in force for one evaluation (defaults, then channel, then tier).
struct Params {
    emotion_scale: f32,
    min_priority: Option<Priority>,
    clarify_to_handoff: bool,
    failure_turns: usize,
    clarify_first: bool,
    clarify_first_unless: Vec<ReasonCode>,
}

/// Every phrase list's match for one text, found once per decision (they do not depend
/// on channel or tier).
struct Matches {
    human: Option<PhraseHit>,
    complex: Vec<Option<PhraseHit>>,
    sensitive: Vec<Option<PhraseHit>>,
    lexicon: Option<PhraseHit>,
}

/// What one decision's evaluations share: the policy file, the turn, its recent history,
/// and what was computed from them once.
struct Facts<'a> {
    config: &'a PolicyConfig,
    turn: &'a TurnInput,
    /// The turn's intent, if the rules may use the model's scores for its language.
    intent: Option<&'a IntentResult>,
    /// The turn's emotion, likewise.
    emotion: Option<&'a EmotionResult>,
    recent: &'a [&'a StoredTurn],
    m: &'a Matches,
    issue: Option<&'a str>,
    negativity: f32,
}

fn intent_listed(list: &[String], i: &IntentResult) -> bool {
    list.iter().any(|e| match e.split_once(':') {
        Some((set, label)) => set == i.set && label == i.label,
        None => *e == i.label,
    })
}

/// Whether an intent counts as recognised: in scope and at or above `min` (the
/// low-confidence threshold, or a rule's own minimum).
fn confident(i: &IntentResult, min: f32) -> bool {
    !i.out_of_scope && i.confidence >= min
}

/// Why a complex or sensitive group matches: its intent (confident enough) or a phrase.
fn group_match(
    intent: Option<&IntentResult>,
    intents: &[String],
    min_confidence: f32,
    phrase: Option<&PhraseHit>,
) -> Option<String> {
    let mut why = Vec::new();
    if let Some(i) = intent.filter(|i| confident(i, min_confidence) && intent_listed(intents, i)) {
        why.push(format!("intent {} {:.2}", i.label, i.confidence));
    }
    if let Some(hit) = phrase {
        why.push(format!("phrase {:?}", hit.phrase));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Runs every rule under one set of thresholds and settles what they found.
fn evaluate(f: &Facts, p: &Params) -> Outcome {
    let mut fired = Vec::new();
    for rule in RULES {
        rule.apply(f, p, &mut fired);
    }
    Outcome::settle(fired, f, p)
}

impl Policy {
    pub fn new(config: PolicyConfig) -> Result<Self, String> {
        config.validate()?;
        let human_phrases = PhraseMatcher::from_lists(&config.human_request.phrases)?;
        let complex = config
            .complex
            .iter()
            .map(|g| PhraseMatcher::from_lists(&g.phrases))
            .collect::<Result<_, _>>()?;
        let sensitive = config
            .sensitive
            .iter()
            .map(|g| PhraseMatcher::from_lists(&g.phrases))
            .collect::<Result<_, _>>()?;
        let lexicon = PhraseMatcher::from_lexicon(&config.negative_emotion.lexicon)?;
        Ok(Self {
            config,
            human_phrases,
            complex,
            sensitive,
            lexicon,
        })
    }

    /// Reads, checks and compiles a policy file.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let config = PolicyConfig::load(path)?;
        Self::new(config).map_err(|message| PolicyError::Invalid {
            file: path.to_path_buf(),
            message,
        })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// Whether the rules may use the model's scores for this turn.
    fn trusts_model(&self, turn: &TurnInput) -> bool {
        if self.config.model_languages.is_empty() {
            turn.model_covers_lang
        } else {
            self.config.model_languages.contains(&turn.lang)
        }
    }

    fn trusted_intent<'a>(&self, turn: &'a TurnInput) -> Option<&'a IntentResult> {
        turn.intent.as_ref().filter(|_| self.trusts_model(turn))
    }

    fn matches(&self, text: &str) -> Matches {
        let lower = text.to_lowercase();
        Matches {
            human: self.human_phrases.find_lower(&lower),
            complex: self.complex.iter().map(|m| m.find_lower(&lower)).collect(),
            sensitive: self
                .sensitive
                .iter()
                .map(|m| m.find_lower(&lower))
                .collect(),
            lexicon: self.lexicon.best_lower(&lower),
        }
    }

    /// What the turn is about, for the context package and surge detection: the
    /// recognised intent (unless it only asks for a person), else the complex or
    /// sensitive group a phrase names.
    pub fn issue_type(&self, turn: &TurnInput) -> Option<String> {
        self.issue_type_with(turn, &self.matches(&turn.text))
    }

    fn issue_type_with(&self, turn: &TurnInput, m: &Matches) -> Option<String> {
        let c = &self.config;
        if let Some(i) = self.trusted_intent(turn) {
            if confident(i, c.low_confidence.threshold)
                && !intent_listed(&c.human_request.intents, i)
            {
                return Some(i.label.clone());
            }
        }
        c.complex
            .iter()
            .zip(&m.complex)
            .find(|(_, hit)| hit.is_some())
            .map(|(g, _)| g.name.clone())
            .or_else(|| {
                c.sensitive
                    .iter()
                    .zip(&m.sensitive)
                    .find(|(_, hit)| hit.is_some())
                    .map(|(s, _)| s.name.clone())
            })
    }

    /// Intents and emotions the policy names that no head of `manifest` has: typos, or a
    /// policy written for another bundle. Logged at start-up and reload; not an error,
    /// since one policy may serve several bundles.
    pub fn unknown_labels(&self, manifest: &crate::model::Manifest) -> Vec<String> {
        let c = &self.config;
        let known_intent = |e: &str| {
            manifest.heads.iter().any(|h| {
                let set = h.name.strip_prefix("intent.");
                set.is_some()
                    && match e.split_once(':') {
                        Some((s, l)) => set == Some(s) && h.labels.iter().any(|x| x == l),
                        None => h.labels.iter().any(|x| x == e),
                    }
            })
        };
        let intents = c
            .human_request
            .intents
            .iter()
            .chain(c.complex.iter().flat_map(|g| &g.intents))
            .chain(c.sensitive.iter().flat_map(|g| &g.intents))
            .chain(c.skill_groups.keys());
        let mut unknown: Vec<String> = intents
            .filter(|e| !known_intent(e))
            .map(|e| format!("intent {e}"))
            .collect();
        let group_names: Vec<&str> = c
            .complex
            .iter()
            .map(|g| g.name.as_str())
            .chain(c.sensitive.iter().map(|g| g.name.as_str()))
            .collect();
        unknown.extend(
            c.surge
                .issues
                .iter()
                .filter(|e| !known_intent(e) && !group_names.contains(&e.as_str()))
                .map(|e| format!("surge issue {e}")),
        );
        if let Some(h) = manifest.heads.iter().find(|h| h.name == "emotion") {
            unknown.extend(
                c.negative_emotion
                    .emotions
                    .keys()
                    .filter(|l| !h.labels.contains(l))
                    .map(|l| format!("emotion {l}")),
            );
        }
        unknown
    }

    /// Whether a surge of this issue type is watched (and so worth counting).
    pub(crate) fn watches_surge(&self, issue: &str) -> bool {
        surge::watched(&self.config, issue)
    }

    /// Negativity of a turn from 0 to 1: the model's negative sentiment when it can read
    /// the language, or the strongest lexicon word. Not the frustration score: on the
    /// shipped model it is high for many calm support requests (eval/policy/README.md).
    pub fn negativity(&self, turn: &TurnInput) -> f32 {
        self.negativity_with(turn, self.lexicon.best(&turn.text).as_ref())
    }

    fn negativity_with(&self, turn: &TurnInput, lexicon: Option<&PhraseHit>) -> f32 {
        let model = match (self.trusts_model(turn), &turn.emotion) {
            (true, Some(e)) => (-e.sentiment.score).max(0.0),
            _ => 0.0,
        };
        let lex = lexicon.map_or(0.0, |h| h.score);
        model.max(lex).min(1.0)
    }

    fn params(&self, channel: Option<&Adjustment>, tier: Option<&Adjustment>) -> Params {
        let adj: Vec<&Adjustment> = [channel, tier].into_iter().flatten().collect();
        Params {
            emotion_scale: adj.iter().filter_map(|a| a.emotion_scale).product(),
            min_priority: adj.iter().filter_map(|a| a.priority).max(),
            clarify_to_handoff: adj.iter().any(|a| a.clarify_to_handoff == Some(true)),
            failure_turns: adj
                .iter()
                .rev()
                .find_map(|a| a.repeated_failure_turns)
                .unwrap_or(self.config.repeated_failure.turns),
            clarify_first: adj.iter().any(|a| a.clarify_first == Some(true)),
            clarify_first_unless: adj
                .iter()
                .rev()
                .find_map(|a| a.clarify_first_unless.clone())
                .unwrap_or_else(|| CLARIFY_FIRST_UNLESS.to_vec()),
        }
    }

    /// The policy's decision for one turn. `history` is the conversation so far, oldest
    /// first; `now_ms` (Unix milliseconds) only decides which turns are recent enough to
    /// count.
    pub fn decide(&self, turn: &TurnInput, history: &[StoredTurn], now_ms: u64) -> Decision {
        let horizon = now_ms.saturating_sub(self.config.history_secs.saturating_mul(1000));
        let recent: Vec<&StoredTurn> = history.iter().filter(|t| t.at_ms >= horizon).collect();
        let channel = turn.channel.as_str();
        let ch = self.config.channels.get(channel);
        let tier_name = turn.tier().map(str::to_lowercase);
        let tier = tier_name.as_deref().and_then(|t| self.config.tiers.get(t));
        let m = self.matches(&turn.text);
        let issue = self.issue_type_with(turn, &m);
        let negativity = self.negativity_with(turn, m.lexicon.as_ref());
        let facts = Facts {
            config: &self.config,
            turn,
            intent: self.trusted_intent(turn),
            emotion: turn.emotion.as_ref().filter(|_| self.trusts_model(turn)),
            recent: &recent,
            m: &m,
            issue: issue.as_deref(),
            negativity,
        };

        let plain = evaluate(&facts, &self.params(None, None));
        let with_channel = match ch {
            Some(_) => evaluate(&facts, &self.params(ch, None)),
            None => plain.clone(),
        };
        let full = match tier {
            Some(_) => evaluate(&facts, &self.params(ch, tier)),
            None => with_channel.clone(),
        };
        let mut reasons = full.reasons.clone();
        if let Some(change) = describe_change(&plain, &with_channel) {
            reasons.push(Reason {
                code: ReasonCode::ChannelOverride,
                detail: format!("{channel}: {change}"),
            });
        }
        if let Some(change) = describe_change(&with_channel, &full) {
            reasons.push(Reason {
                code: ReasonCode::CustomerTier,
                detail: format!("{}: {change}", tier_name.as_deref().unwrap_or("")),
            });
        }
        if turn.memory_unavailable {
            reasons.push(Reason {
                code: ReasonCode::MemoryUnavailable,
                detail: "conversation store unreachable: decided without history, turn not kept"
                    .into(),
            });
        }
        let (action, shadow) = match self.config.mode {
            Mode::Enforce => (full.action, None),
            Mode::Shadow => (Action::Bot, Some(full.action)),
        };
        Decision {
            action,
            priority: full.priority,
            severity: full.severity,
            response_time_secs: self.config.severity.secs(full.severity),
            skill_group: full.skill_group,
            reasons,
            issue_type: issue,
            shadow,
        }
    }
}
