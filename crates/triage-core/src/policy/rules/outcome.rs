//! What the fired rules add up to under one set of thresholds ([`Outcome`]), and how two
//! outcomes differ ([`describe_change`], for the `channel_override` and `customer_tier`
//! reasons).

use super::{confident, Facts, Params};
use crate::policy::decision::{Action, Priority, Reason, ReasonCode, Severity};

/// Whose team takes the conversation when several fired rules name one: the strongest
/// routing rule (surge > sensitive > complex > human request, as `config/policy.toml`
/// documents), and among equal ranks the last to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TeamRank {
    HumanRequested,
    ComplexIssue,
    SensitiveOperation,
    Surge,
}

/// One rule's finding.
pub(super) struct Fired {
    pub(super) reason: Reason,
    pub(super) action: Action,
    pub(super) priority: Priority,
    pub(super) severity: Severity,
    /// The team the rule names, if any, with its rank.
    pub(super) skill_group: Option<(TeamRank, String)>,
}

impl Fired {
    pub(super) fn new(
        code: ReasonCode,
        detail: String,
        action: Action,
        priority: Priority,
        severity: Severity,
        skill_group: Option<(TeamRank, String)>,
    ) -> Self {
        Self {
            reason: Reason { code, detail },
            action,
            priority,
            severity,
            skill_group,
        }
    }
}

/// The decision under one set of thresholds, before the counterfactual reasons.
#[derive(Clone, PartialEq)]
pub(super) struct Outcome {
    pub(super) action: Action,
    pub(super) priority: Priority,
    pub(super) severity: Severity,
    pub(super) skill_group: String,
    pub(super) reasons: Vec<Reason>,
}

impl Outcome {
    /// What the fired rules (in rule order) add up to: the highest action any asks for,
    /// changed by the channel's or tier's `clarify_to_handoff` and `clarify_first`; the
    /// highest priority (raised to the adjustment's minimum for a handoff) and severity;
    /// the highest-ranked team, else the team of the recognised intent, else the
    /// default one.
    pub(super) fn settle(fired: Vec<Fired>, f: &Facts, p: &Params) -> Outcome {
        let c = f.config;
        let mut action = fired.iter().map(|f| f.action).max().unwrap_or(Action::Bot);
        if action == Action::Clarify && p.clarify_to_handoff {
            action = Action::Handoff;
        }
        // Ask once before handing off (a voice transcript may be wrong), unless a reason
        // that cannot wait fired or the bot has just asked.
        if action == Action::Handoff
            && p.clarify_first
            && !fired
                .iter()
                .any(|f| p.clarify_first_unless.contains(&f.reason.code))
            && f.recent
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
                f.intent
                    .filter(|i| confident(i, c.low_confidence.threshold))
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

/// How `after` differs from `before`, for people, or `None` if it does not.
pub(super) fn describe_change(before: &Outcome, after: &Outcome) -> Option<String> {
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
