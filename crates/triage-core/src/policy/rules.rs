//! The rules: a pure function from a message (with its classifier outputs) and the
//! conversation so far to a [`Decision`]. No clock, store or lock in here: the stateful
//! parts (history, surge counts) arrive as arguments, so the evaluation can call
//! [`Policy::decide`] on a single message and tests can script whole conversations.
//!
//! Channel and tier adjustments are evaluated as counterfactuals: the rules run with the
//! plain thresholds, with the channel's, and with the channel's and the tier's; when an
//! adjustment changed the outcome, `channel_override` or `customer_tier` says how. That
//! keeps every threshold in one place and the reasons honest.

use super::config::{Adjustment, Mode, PolicyConfig, SensitiveMode};
use super::decision::{Action, Decision, Priority, Reason, ReasonCode, Severity};
use super::phrases::{PhraseHit, PhraseMatcher};
use super::turn::{StoredTurn, TurnInput};
use super::PolicyError;
use crate::model::IntentResult;
use std::path::Path;

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

struct Fired {
    reason: Reason,
    action: Action,
    priority: Priority,
    severity: Severity,
    /// (rank, team): the highest rank names the skill group.
    skill_group: Option<(u8, String)>,
}

/// What one decision's evaluations share: the turn, its recent history, and what was
/// computed from them once.
struct Facts<'a> {
    turn: &'a TurnInput,
    recent: &'a [&'a StoredTurn],
    m: &'a Matches,
    issue: Option<&'a str>,
    negativity: f32,
}

#[derive(Clone, PartialEq)]
struct Outcome {
    action: Action,
    priority: Priority,
    severity: Severity,
    skill_group: String,
    reasons: Vec<Reason>,
}

fn intent_listed(list: &[String], i: &IntentResult) -> bool {
    list.iter().any(|e| match e.split_once(':') {
        Some((set, label)) => set == i.set && label == i.label,
        None => *e == i.label,
    })
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

    /// Whether an intent counts as recognised: in scope and not under the low-confidence
    /// threshold (or the rule's own minimum, whichever is higher).
    fn confident(&self, i: &IntentResult, min: f32) -> bool {
        !i.out_of_scope && i.confidence >= min
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
            if self.confident(i, c.low_confidence.threshold)
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
    pub fn watches_surge(&self, issue: &str) -> bool {
        self.config.surge.enabled && self.config.surge.issues.iter().any(|i| i == issue)
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
            turn,
            recent: &recent,
            m: &m,
            issue: issue.as_deref(),
            negativity,
        };

        let plain = self.evaluate(&facts, &self.params(None, None));
        let with_channel = match ch {
            Some(_) => self.evaluate(&facts, &self.params(ch, None)),
            None => plain.clone(),
        };
        let full = match tier {
            Some(_) => self.evaluate(&facts, &self.params(ch, tier)),
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

    fn evaluate(&self, f: &Facts, p: &Params) -> Outcome {
        let (turn, recent, m) = (f.turn, f.recent, f.m);
        let c = &self.config;
        let intent = self.trusted_intent(turn);
        let emotion = turn.emotion.as_ref().filter(|_| self.trusts_model(turn));
        let mut fired: Vec<Fired> = Vec::new();
        let mut fire = |code, detail: String, action, priority, severity, group| {
            fired.push(Fired {
                reason: Reason { code, detail },
                action,
                priority,
                severity,
                skill_group: group,
            })
        };

        if let Some(i) = intent {
            // Ambiguous (torn between two) and low confidence (lost) exclude each other,
            // so the bot knows whether to offer two choices or ask to rephrase.
            let torn = match (
                c.ambiguity.enabled && !i.out_of_scope,
                i.top.first(),
                i.top.get(1),
            ) {
                (true, Some(a), Some(b))
                    if a.score - b.score < c.ambiguity.margin
                        && a.score + b.score >= c.ambiguity.min_top_two =>
                {
                    Some((a, b))
                }
                _ => None,
            };
            if let Some((a, b)) = torn {
                fire(
                    ReasonCode::Ambiguous,
                    format!(
                        "{} {:.2} vs {} {:.2}: margin {:.2} < {:.2}",
                        a.label,
                        a.score,
                        b.label,
                        b.score,
                        a.score - b.score,
                        c.ambiguity.margin
                    ),
                    c.ambiguity.action,
                    c.ambiguity.priority,
                    Severity::Basic,
                    None,
                );
            } else if c.low_confidence.enabled
                && !i.out_of_scope
                && i.confidence < c.low_confidence.threshold
            {
                fire(
                    ReasonCode::LowConfidence,
                    format!(
                        "{} {:.2} < {:.2}",
                        i.label, i.confidence, c.low_confidence.threshold
                    ),
                    c.low_confidence.action,
                    c.low_confidence.priority,
                    Severity::Basic,
                    None,
                );
            }
            if c.out_of_scope.enabled && i.out_of_scope {
                fire(
                    ReasonCode::OutOfScope,
                    format!("intent set {}: {} ({:.2})", i.set, i.label, i.confidence),
                    c.out_of_scope.action,
                    c.out_of_scope.priority,
                    Severity::Basic,
                    None,
                );
            }
        }

        // Explicit request for a person: the intent or a phrase.
        let hr = &c.human_request;
        if hr.enabled {
            let mut why = Vec::new();
            if let Some(i) = intent
                .filter(|i| self.confident(i, hr.min_confidence) && intent_listed(&hr.intents, i))
            {
                why.push(format!("intent {} {:.2}", i.label, i.confidence));
            }
            if let Some(hit) = &m.human {
                why.push(format!("phrase {:?}", hit.phrase));
            }
            if !why.is_empty() {
                fire(
                    ReasonCode::HumanRequested,
                    why.join("; "),
                    Action::Handoff,
                    hr.priority,
                    Severity::Basic,
                    hr.skill_group.clone().map(|g| (0, g)),
                );
            }
        }

        for (g, hit) in c.complex.iter().zip(&m.complex) {
            if let Some(why) = group_match(intent, &g.intents, g.min_confidence, hit.as_ref()) {
                fire(
                    ReasonCode::ComplexIntent,
                    format!("{} → {}: {why}", g.name, g.skill_group),
                    g.action,
                    g.priority,
                    g.severity,
                    Some((1, g.skill_group.clone())),
                );
            }
        }

        for (s, hit) in c.sensitive.iter().zip(&m.sensitive) {
            if let Some(why) = group_match(intent, &s.intents, s.min_confidence, hit.as_ref()) {
                let (action, what) = match s.mode {
                    SensitiveMode::Handoff => (Action::Handoff, "always handled by a person"),
                    SensitiveMode::Confirm => {
                        (Action::Clarify, "needs the customer's confirmation")
                    }
                };
                fire(
                    ReasonCode::SensitiveOperation,
                    format!("{} {what}: {why}", s.name),
                    action,
                    s.priority,
                    s.severity,
                    Some((2, s.skill_group.clone())),
                );
            }
        }

        let ne = &c.negative_emotion;
        if ne.enabled {
            let mut hits: Vec<(f32, String)> = Vec::new();
            if let Some(e) = emotion {
                for (label, &th) in &ne.emotions {
                    let t = th * p.emotion_scale;
                    if let Some(&s) = e.scores.get(label) {
                        if s >= t {
                            hits.push((s, format!("{label} {s:.2} >= {t:.2}")));
                        }
                    }
                }
                if let Some(f) = ne.frustration {
                    let t = f * p.emotion_scale;
                    if e.frustration >= t {
                        hits.push((
                            e.frustration,
                            format!("frustration {:.2} >= {t:.2}", e.frustration),
                        ));
                    }
                }
                if let Some(f) = ne.negative_sentiment {
                    let t = f * p.emotion_scale;
                    let neg = -e.sentiment.score;
                    if neg >= t {
                        hits.push((neg, format!("negative sentiment {neg:.2} >= {t:.2}")));
                    }
                }
            }
            if let Some(hit) = &m.lexicon {
                let t = ne.lexicon_threshold * p.emotion_scale;
                if hit.score >= t {
                    hits.push((
                        hit.score,
                        format!("word {:?} {:.2} >= {t:.2}", hit.phrase, hit.score),
                    ));
                }
            }
            if !hits.is_empty() {
                hits.sort_by(|a, b| b.0.total_cmp(&a.0));
                let detail: Vec<String> = hits.into_iter().map(|(_, d)| d).collect();
                fire(
                    ReasonCode::NegativeEmotion,
                    detail.join(", "),
                    ne.action,
                    ne.priority,
                    Severity::Basic,
                    None,
                );
            }
        }

        let rn = &c.rising_negativity;
        if rn.enabled && recent.len() + 1 >= rn.turns {
            let mut seq: Vec<f32> = recent[recent.len() + 1 - rn.turns..]
                .iter()
                .map(|t| t.negativity)
                .collect();
            seq.push(f.negativity);
            let rising = seq.windows(2).all(|w| w[1] > w[0]);
            let rise = seq[seq.len() - 1] - seq[0];
            if rising && rise >= rn.min_rise {
                let path: Vec<String> = seq.iter().map(|v| format!("{v:.2}")).collect();
                fire(
                    ReasonCode::RisingNegativity,
                    format!(
                        "negativity {} over {} turns: rise {rise:.2} >= {:.2}",
                        path.join(" → "),
                        rn.turns,
                        rn.min_rise
                    ),
                    rn.action,
                    rn.priority,
                    Severity::Basic,
                    None,
                );
            }
        }

        let sg = &c.surge;
        if let (Some(count), Some(issue)) = (turn.surge_count, f.issue) {
            if self.watches_surge(issue) && count >= sg.min_conversations {
                fire(
                    ReasonCode::Surge,
                    format!(
                        "{issue} in {count} conversations within {} s (>= {}): major incident",
                        sg.window_secs, sg.min_conversations
                    ),
                    sg.action,
                    sg.priority,
                    Severity::Major,
                    Some((3, sg.skill_group.clone())),
                );
            }
        }

        let mut action = fired.iter().map(|f| f.action).max().unwrap_or(Action::Bot);

        // Repeated failure: this turn failed too, after a streak of failures.
        let rf = &c.repeated_failure;
        let failing = action == Action::Clarify
            || fired.iter().any(|f| {
                matches!(
                    f.reason.code,
                    ReasonCode::LowConfidence | ReasonCode::Ambiguous
                )
            });
        if rf.enabled && failing {
            let streak = 1 + recent.iter().rev().take_while(|t| t.is_failure()).count();
            if streak >= p.failure_turns {
                fired.push(Fired {
                    reason: Reason {
                        code: ReasonCode::RepeatedFailure,
                        detail: format!(
                            "{streak} consecutive turns not understood (>= {})",
                            p.failure_turns
                        ),
                    },
                    action: Action::Handoff,
                    priority: rf.priority,
                    severity: Severity::Basic,
                    skill_group: None,
                });
                action = Action::Handoff;
            }
        }

        if action == Action::Clarify && p.clarify_to_handoff {
            action = Action::Handoff;
        }
        if action == Action::Handoff
            && p.clarify_first
            && !fired
                .iter()
                .any(|f| p.clarify_first_unless.contains(&f.reason.code))
            && recent
                .last()
                .is_none_or(|t| t.handoff.policy_action() != Action::Clarify)
        {
            action = Action::Clarify;
        }

        let mut priority = fired.iter().map(|f| f.priority).max().unwrap_or_default();
        if action == Action::Handoff {
            if let Some(min) = p.min_priority {
                priority = priority.max(min);
            }
        }
        let severity = fired.iter().map(|f| f.severity).max().unwrap_or_default();
        let skill_group = fired
            .iter()
            .filter_map(|f| f.skill_group.as_ref())
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, g)| g.clone())
            .or_else(|| {
                intent
                    .filter(|i| self.confident(i, c.low_confidence.threshold))
                    .and_then(|i| {
                        c.skill_groups
                            .get(&format!("{}:{}", i.set, i.label))
                            .or_else(|| c.skill_groups.get(&i.label))
                            .cloned()
                    })
            })
            .unwrap_or_else(|| c.default_skill_group.clone());
        Outcome {
            action,
            priority,
            severity,
            skill_group,
            reasons: fired.into_iter().map(|f| f.reason).collect(),
        }
    }
}

/// Why a complex or sensitive group matches: its intent (confident enough) or a phrase.
fn group_match(
    intent: Option<&IntentResult>,
    intents: &[String],
    min_confidence: f32,
    phrase: Option<&PhraseHit>,
) -> Option<String> {
    let mut why = Vec::new();
    if let Some(i) = intent
        .filter(|i| !i.out_of_scope && i.confidence >= min_confidence && intent_listed(intents, i))
    {
        why.push(format!("intent {} {:.2}", i.label, i.confidence));
    }
    if let Some(hit) = phrase {
        why.push(format!("phrase {:?}", hit.phrase));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// How `after` differs from `before`, for people, or `None` if it does not.
fn describe_change(before: &Outcome, after: &Outcome) -> Option<String> {
    let mut parts = Vec::new();
    if before.action != after.action {
        parts.push(format!(
            "{} → {}",
            before.action.as_str(),
            after.action.as_str()
        ));
    }
    if after.action == Action::Handoff && before.priority != after.priority {
        parts.push(format!(
            "priority {} → {}",
            before.priority.as_str(),
            after.priority.as_str()
        ));
    }
    let codes = |o: &Outcome| o.reasons.iter().map(|r| r.code).collect::<Vec<_>>();
    let (b, a) = (codes(before), codes(after));
    for code in a.iter().filter(|c| !b.contains(c)) {
        parts.push(format!("{} fires at its bar", code.as_str()));
    }
    for code in b.iter().filter(|c| !a.contains(c)) {
        parts.push(format!("{} no longer fires", code.as_str()));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
