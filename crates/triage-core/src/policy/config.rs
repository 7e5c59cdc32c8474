//! The policy file (`config/policy.toml`): every threshold, list and override the rules
//! read, with the defaults of the shipped file. A file is checked as a whole before it
//! replaces the running policy, so a typo never half-applies.

use super::decision::{Action, Priority, ReasonCode, Severity};
use super::PolicyError;
use crate::cause::Cause;
use crate::text::Channel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Enforce the decisions, or only report them (`shadow`: the response's `action` stays
/// `bot` and the policy's choice goes to `shadow`), to trial a policy on live traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub mode: Mode,
    /// Team for conversations no rule or intent mapping assigns.
    pub default_skill_group: String,
    /// History rules (rising negativity, repeated failure, voice clarify-first) ignore
    /// turns older than this: a customer coming back tomorrow starts afresh.
    pub history_secs: u64,
    /// Languages whose intent and emotion scores the rules trust; empty means the
    /// bundle's own `languages`. Outside them (Chinese on the English-only bundle) the
    /// model-based rules stay silent and phrase lists, lexicons, history, tier and surge
    /// decide.
    pub model_languages: Vec<String>,
    pub severity: SeverityTargets,
    pub low_confidence: LowConfidence,
    pub ambiguity: Ambiguity,
    pub out_of_scope: OutOfScope,
    pub human_request: HumanRequest,
    /// `[[complex]]`: issue types a human specialist handles.
    pub complex: Vec<IssueGroup>,
    /// `[[sensitive]]`: operations the bot never performs on its own.
    pub sensitive: Vec<SensitiveOperation>,
    pub negative_emotion: NegativeEmotion,
    pub rising_negativity: RisingNegativity,
    pub repeated_failure: RepeatedFailure,
    pub surge: Surge,
    /// Customer tiers by name (`vip`, `gold`, ...); unknown tiers get no adjustment.
    pub tiers: BTreeMap<String, Adjustment>,
    /// Per-channel overrides (`voice`, `social`, ...).
    pub channels: BTreeMap<String, Adjustment>,
    /// Intent → skill group, for routing the conversations no rule assigns a team.
    pub skill_groups: BTreeMap<String, String>,
}

/// Response-time targets, in seconds, per severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityTargets {
    basic: u64,
    complex: u64,
    major: u64,
}

impl SeverityTargets {
    pub(crate) fn secs(&self, s: Severity) -> u64 {
        match s {
            Severity::Basic => self.basic,
            Severity::Complex => self.complex,
            Severity::Major => self.major,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LowConfidence {
    pub enabled: bool,
    /// Fires when the top intent's calibrated confidence is below this.
    pub threshold: f32,
    pub action: Action,
    pub(crate) priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ambiguity {
    pub enabled: bool,
    /// Fires when the top two intents are closer than this.
    pub margin: f32,
    /// ... and together hold at least this much probability. Below it the model is not
    /// torn between two intents but lost, which is `low_confidence`.
    pub(crate) min_top_two: f32,
    pub(crate) action: Action,
    pub(crate) priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutOfScope {
    pub enabled: bool,
    pub action: Action,
    pub(crate) priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HumanRequest {
    pub enabled: bool,
    /// Intents that mean "let me talk to a person" (`label` or `set:label`).
    pub intents: Vec<String>,
    /// An intent counts only at or above this confidence.
    pub(crate) min_confidence: f32,
    /// Phrases by language; all lists are matched whatever the message's language.
    pub phrases: BTreeMap<String, Vec<String>>,
    pub(crate) priority: Priority,
    pub skill_group: Option<String>,
}

/// A complex issue type: intents and phrases that route to a specialist team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssueGroup {
    pub(crate) name: String,
    pub(crate) skill_group: String,
    pub intents: Vec<String>,
    pub(crate) min_confidence: f32,
    pub phrases: BTreeMap<String, Vec<String>>,
    pub(crate) action: Action,
    pub(crate) priority: Priority,
    pub(crate) severity: Severity,
}

impl Default for IssueGroup {
    fn default() -> Self {
        Self {
            name: String::new(),
            skill_group: String::new(),
            intents: vec![],
            min_confidence: 0.5,
            phrases: BTreeMap::new(),
            action: Action::Handoff,
            priority: Priority::High,
            severity: Severity::Complex,
        }
    }
}

/// `handoff`: always a human; `confirm`: the bot asks the customer to confirm first
/// (action `clarify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensitiveMode {
    #[default]
    Handoff,
    Confirm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensitiveOperation {
    pub(crate) name: String,
    pub(crate) skill_group: String,
    pub intents: Vec<String>,
    pub(crate) min_confidence: f32,
    pub phrases: BTreeMap<String, Vec<String>>,
    pub mode: SensitiveMode,
    pub(crate) priority: Priority,
    pub(crate) severity: Severity,
}

impl Default for SensitiveOperation {
    fn default() -> Self {
        Self {
            name: String::new(),
            skill_group: String::new(),
            intents: vec![],
            min_confidence: 0.5,
            phrases: BTreeMap::new(),
            mode: SensitiveMode::Handoff,
            priority: Priority::Normal,
            severity: Severity::Complex,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NegativeEmotion {
    pub enabled: bool,
    /// Per-emotion score thresholds (labels of the bundle's `emotion` head).
    pub emotions: BTreeMap<String, f32>,
    /// Threshold on the frustration score (noisy-OR of the frustration labels).
    pub frustration: Option<f32>,
    /// Threshold on the negative sentiment: fires when `-sentiment.score` reaches it.
    pub negative_sentiment: Option<f32>,
    /// Negative words by language with a negativity score each (0 to 1), for messages the
    /// model cannot read.
    pub lexicon: BTreeMap<String, BTreeMap<String, f32>>,
    /// A lexicon word fires the rule when its score reaches this.
    pub(crate) lexicon_threshold: f32,
    pub action: Action,
    pub(crate) priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RisingNegativity {
    pub enabled: bool,
    /// Turns looked at, this one included.
    pub turns: usize,
    /// Rise in negativity from the first to the last of them; each step must rise too.
    pub min_rise: f32,
    pub(crate) action: Action,
    pub(crate) priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepeatedFailure {
    pub enabled: bool,
    /// Consecutive clarify or low-confidence turns, this one included, that hand off.
    pub turns: usize,
    pub(crate) priority: Priority,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Surge {
    pub enabled: bool,
    /// Issue types (intents or `[[complex]]` names) whose surge is an incident.
    pub issues: Vec<String>,
    pub window_secs: u64,
    /// Distinct conversations with the issue within the window, this one included.
    pub min_conversations: usize,
    pub(crate) action: Action,
    pub(crate) priority: Priority,
    pub(crate) skill_group: String,
}

/// A channel's or a tier's changes to the defaults. Unset fields change nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adjustment {
    /// Minimum priority of a handoff.
    pub priority: Option<Priority>,
    /// Multiplies the negative-emotion thresholds: below 1 hands off sooner.
    pub emotion_scale: Option<f32>,
    /// A turn the bot would clarify goes to a human instead.
    pub clarify_to_handoff: Option<bool>,
    /// Consecutive failures that hand off, instead of `repeated_failure.turns`.
    pub repeated_failure_turns: Option<usize>,
    /// Ask to clarify once before handing off (voice: the transcript may be wrong).
    pub clarify_first: Option<bool>,
    /// Reasons that hand off at once even where `clarify_first` is set.
    pub clarify_first_unless: Option<Vec<ReasonCode>>,
}

impl Default for PolicyConfig {
    /// The built-in defaults are the common baseline (Rasa's and Dialogflow's 0.3
    /// confidence and 0.1 ambiguity, no phrase lists): what a key left out of a file
    /// means. The shipped `config/policy.toml` sets every value explicitly.
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            default_skill_group: "general".into(),
            history_secs: 1800,
            model_languages: vec![],
            severity: SeverityTargets::default(),
            low_confidence: LowConfidence::default(),
            ambiguity: Ambiguity::default(),
            out_of_scope: OutOfScope::default(),
            human_request: HumanRequest::default(),
            complex: vec![],
            sensitive: vec![],
            negative_emotion: NegativeEmotion::default(),
            rising_negativity: RisingNegativity::default(),
            repeated_failure: RepeatedFailure::default(),
            surge: Surge::default(),
            tiers: BTreeMap::new(),
            channels: BTreeMap::new(),
            skill_groups: BTreeMap::new(),
        }
    }
}

impl Default for SeverityTargets {
    fn default() -> Self {
        Self {
            basic: 120,
            complex: 600,
            major: 60,
        }
    }
}

impl Default for LowConfidence {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: 0.3,
            action: Action::Clarify,
            priority: Priority::Normal,
        }
    }
}

impl Default for Ambiguity {
    fn default() -> Self {
        Self {
            enabled: true,
            margin: 0.1,
            min_top_two: 0.5,
            action: Action::Clarify,
            priority: Priority::Normal,
        }
    }
}

impl Default for OutOfScope {
    fn default() -> Self {
        Self {
            enabled: true,
            action: Action::Handoff,
            priority: Priority::Normal,
        }
    }
}

impl Default for HumanRequest {
    fn default() -> Self {
        Self {
            enabled: true,
            intents: vec![],
            min_confidence: 0.5,
            phrases: BTreeMap::new(),
            priority: Priority::Normal,
            skill_group: None,
        }
    }
}

impl Default for NegativeEmotion {
    fn default() -> Self {
        Self {
            enabled: true,
            emotions: BTreeMap::new(),
            frustration: None,
            negative_sentiment: None,
            lexicon: BTreeMap::new(),
            lexicon_threshold: 0.6,
            action: Action::Handoff,
            priority: Priority::High,
        }
    }
}

impl Default for RisingNegativity {
    fn default() -> Self {
        Self {
            enabled: true,
            turns: 3,
            min_rise: 0.3,
            action: Action::Handoff,
            priority: Priority::High,
        }
    }
}

impl Default for RepeatedFailure {
    fn default() -> Self {
        Self {
            enabled: true,
            turns: 3,
            priority: Priority::High,
        }
    }
}

impl Default for Surge {
    fn default() -> Self {
        Self {
            enabled: true,
            issues: vec![],
            window_secs: 600,
            min_conversations: 20,
            action: Action::Handoff,
            priority: Priority::Urgent,
            skill_group: "incident".into(),
        }
    }
}

fn unit(name: &str, v: f32) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!("{name} = {v}: must be between 0 and 1"))
    }
}

fn non_empty_phrases(name: &str, p: &BTreeMap<String, Vec<String>>) -> Result<(), String> {
    for (lang, list) in p {
        if list.iter().any(|s| s.trim().is_empty()) {
            return Err(format!("{name}.phrases.{lang} has an empty phrase"));
        }
    }
    Ok(())
}

impl PolicyConfig {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
            file: path.to_path_buf(),
            source: Cause::new(e),
        })?;
        Self::parse_file(path, &text)
    }

    /// Parses and checks policy text (the file's content).
    pub fn parse(text: &str) -> Result<Self, String> {
        let c: PolicyConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    /// [`Self::parse`] for the text of `file`, keeping the TOML parser's error as the
    /// source of a syntax error (same message).
    pub(crate) fn parse_file(file: &Path, text: &str) -> Result<Self, PolicyError> {
        let c: PolicyConfig = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            file: file.to_path_buf(),
            source: Cause::new(e),
        })?;
        c.validate().map_err(|message| PolicyError::Invalid {
            file: file.to_path_buf(),
            message,
        })?;
        Ok(c)
    }

    /// Everything serde cannot check: ranges, names, duplicates.
    pub(crate) fn validate(&self) -> Result<(), String> {
        unit("low_confidence.threshold", self.low_confidence.threshold)?;
        unit("ambiguity.margin", self.ambiguity.margin)?;
        unit("ambiguity.min_top_two", self.ambiguity.min_top_two)?;
        unit(
            "human_request.min_confidence",
            self.human_request.min_confidence,
        )?;
        non_empty_phrases("human_request", &self.human_request.phrases)?;
        for (label, &t) in &self.negative_emotion.emotions {
            unit(&format!("negative_emotion.emotions.{label}"), t)?;
        }
        if let Some(f) = self.negative_emotion.frustration {
            unit("negative_emotion.frustration", f)?;
        }
        if let Some(f) = self.negative_emotion.negative_sentiment {
            unit("negative_emotion.negative_sentiment", f)?;
        }
        unit(
            "negative_emotion.lexicon_threshold",
            self.negative_emotion.lexicon_threshold,
        )?;
        for (lang, words) in &self.negative_emotion.lexicon {
            for (w, &s) in words {
                if w.trim().is_empty() {
                    return Err(format!("negative_emotion.lexicon.{lang} has an empty word"));
                }
                unit(&format!("negative_emotion.lexicon.{lang}.{w:?}"), s)?;
            }
        }
        if self.rising_negativity.turns < 2 {
            return Err("rising_negativity.turns must be at least 2".into());
        }
        unit(
            "rising_negativity.min_rise",
            self.rising_negativity.min_rise,
        )?;
        if self.repeated_failure.turns < 1 {
            return Err("repeated_failure.turns must be at least 1".into());
        }
        if self.surge.window_secs == 0 || self.surge.min_conversations == 0 {
            return Err("surge.window_secs and surge.min_conversations must be positive".into());
        }
        let mut names = std::collections::HashSet::new();
        for g in &self.complex {
            if g.name.is_empty() || g.skill_group.is_empty() {
                return Err("every [[complex]] needs a name and a skill_group".into());
            }
            unit(
                &format!("complex {:?} min_confidence", g.name),
                g.min_confidence,
            )?;
            non_empty_phrases(&format!("complex {:?}", g.name), &g.phrases)?;
            if !names.insert(g.name.clone()) {
                return Err(format!("[[complex]] name {:?} is used twice", g.name));
            }
        }
        for s in &self.sensitive {
            if s.name.is_empty() || s.skill_group.is_empty() {
                return Err("every [[sensitive]] needs a name and a skill_group".into());
            }
            unit(
                &format!("sensitive {:?} min_confidence", s.name),
                s.min_confidence,
            )?;
            non_empty_phrases(&format!("sensitive {:?}", s.name), &s.phrases)?;
            if !names.insert(s.name.clone()) {
                return Err(format!("[[sensitive]] name {:?} is used twice", s.name));
            }
        }
        for (name, a) in self.tiers.iter().chain(&self.channels) {
            if let Some(s) = a.emotion_scale {
                if !(s > 0.0 && s <= 2.0) {
                    return Err(format!("{name}: emotion_scale = {s}: must be in (0, 2]"));
                }
            }
            if a.repeated_failure_turns == Some(0) {
                return Err(format!("{name}: repeated_failure_turns must be at least 1"));
            }
        }
        for ch in self.channels.keys() {
            ch.parse::<Channel>().map_err(|_| {
                format!(
                    "[channels.{ch}]: unknown channel; expected one of chat, voice, email, social"
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_and_unknown_keys_are_rejected_with_their_name() {
        let e = PolicyConfig::parse("[low_confidence]\nthreshold = 1.5\n").unwrap_err();
        assert!(e.contains("low_confidence.threshold"), "{e}");
        let e = PolicyConfig::parse("[low_confidence]\nthreshhold = 0.5\n").unwrap_err();
        assert!(e.contains("threshhold"), "{e}");
        let e = PolicyConfig::parse("[channels.fax]\npriority = \"high\"\n").unwrap_err();
        assert!(e.contains("fax"), "{e}");
        let e = PolicyConfig::parse("[[complex]]\nname = \"x\"\nskill_group = \"a\"\n[[complex]]\nname = \"x\"\nskill_group = \"b\"\n").unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(PolicyConfig::parse("").unwrap(), PolicyConfig::default());
    }
}
