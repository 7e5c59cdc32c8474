//! Handoff simulation: what a handoff decision costs before it goes live.
//!
//! A labelled set is assembled from the test splits (or the split the suite names):
//!
//! | group | source | a human should take over? |
//! |---|---|---|
//! | `routine` | bitext_customer_support, every intent except `contact_human_agent`, `contact_customer_service` and `complaint` | no: the bot should answer |
//! | `human_request` | bitext_customer_support `contact_human_agent` | yes |
//! | `complaint` | bitext_customer_support `complaint` | yes |
//! | `out_of_scope` | clinc150 `oos` | yes |
//! | `strongly_negative` | goemotions items labelled anger, annoyance or disgust and no positive emotion | yes |
//! | `upset_request` | routine bitext requests made upset with held-out markers (`train::mix::upset`, [`Markers::HeldOut`]) | yes |
//!
//! `strongly_negative` is Reddit text: a support head that knows what is out of its scope
//! hands most of it off as out-of-scope whatever its emotion reading; `upset_request` is
//! support text, where only the emotion reading can tell upset from routine.
//!
//! [`Markers::HeldOut`]: crate::train::mix::upset::Markers::HeldOut
//!
//! `contact_customer_service` is left out of both sides: half its texts ask for opening
//! hours (the bot can answer), half ask to speak to someone. banking77 and clinc150 have
//! no "talk to a human" intent. Each group keeps its data set's channel.
//!
//! Every item goes through the bundle as a `/v1/classify` request for the suite's intent
//! set, and a [`HandoffDecider`] turns the request and response into bot / clarify /
//! handoff: the handoff policy the server applies (`crate::eval::simulate::PolicyDecider`, when
//! the suite names a `policy` file), or [`ConfidenceThreshold`] alone.
//!
//! Figures (routine requests are the denominator of the first three):
//! * containment: routine requests the bot keeps;
//! * wrong-answer rate: routine requests the bot keeps with the wrong intent;
//! * wrong-answer share of kept: the same, as a share of the routine requests kept;
//! * handoff precision: handoffs that went to a should-hand-off item;
//! * handoff recall: should-hand-off items that were handed off;
//! * not-kept recall: should-hand-off items the bot did not answer (handoff or clarify);
//! * human-request recall: explicit requests for a human that were handed off.
//!
//! A `clarify` is neither contained nor a handoff.

use crate::data::{self, DataError, Record, Split};
use crate::train::mix::upset;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use triage_core::api::ClassifyResponse;
use triage_core::text::Channel;

/// The one bot / clarify / handoff of the whole workspace: a decider answers what the
/// policy would (same names in reports: `bot`, `clarify`, `handoff`).
use triage_core::policy::Action;

/// What a decider sees of the request besides the classification.
#[derive(Debug, Clone, Copy)]
pub struct HandoffRequest<'a> {
    pub(crate) text: &'a str,
    pub(crate) channel: Channel,
}

/// Decides bot / clarify / handoff for one message. The sweep moves the confidence
/// threshold, so a decider takes it as an argument; [`HandoffDecider::threshold`] is the
/// one it is configured with (the headline figures and the marked point of the sweep).
pub trait HandoffDecider {
    /// Shown in reports (e.g. `confidence threshold` or `policy config/policy.toml`).
    fn name(&self) -> String;
    fn threshold(&self) -> f32;
    fn decide(
        &self,
        request: &HandoffRequest<'_>,
        response: &ClassifyResponse,
        threshold: f32,
    ) -> Action;
}

/// The bot keeps a message when its intent is in scope and its confidence is at or above
/// the threshold; everything else is handed off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConfidenceThreshold {
    pub(crate) threshold: f32,
}

impl HandoffDecider for ConfidenceThreshold {
    fn name(&self) -> String {
        "confidence threshold".into()
    }

    fn threshold(&self) -> f32 {
        self.threshold
    }

    fn decide(
        &self,
        _: &HandoffRequest<'_>,
        response: &ClassifyResponse,
        threshold: f32,
    ) -> Action {
        match &response.intent {
            Some(i) if !i.out_of_scope && i.confidence >= threshold => Action::Bot,
            _ => Action::Handoff,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Group {
    Routine,
    HumanRequest,
    Complaint,
    OutOfScope,
    StronglyNegative,
    UpsetRequest,
}

impl Group {
    pub(crate) const ALL: [Group; 6] = [
        Group::Routine,
        Group::HumanRequest,
        Group::Complaint,
        Group::OutOfScope,
        Group::StronglyNegative,
        Group::UpsetRequest,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Group::Routine => "routine",
            Group::HumanRequest => "human_request",
            Group::Complaint => "complaint",
            Group::OutOfScope => "out_of_scope",
            Group::StronglyNegative => "strongly_negative",
            Group::UpsetRequest => "upset_request",
        }
    }

    fn should_hand_off(self) -> bool {
        self != Group::Routine
    }

    fn source(self) -> &'static str {
        match self {
            Group::Routine => "bitext_customer_support, all intents but contact_human_agent, contact_customer_service, complaint",
            Group::HumanRequest => "bitext_customer_support contact_human_agent",
            Group::Complaint => "bitext_customer_support complaint",
            Group::OutOfScope => "clinc150 oos",
            Group::StronglyNegative => "goemotions anger/annoyance/disgust without a positive emotion",
            Group::UpsetRequest => "bitext routine requests with held-out upset markers",
        }
    }
}

const BITEXT: &str = "bitext_customer_support";
const HUMAN: &str = "contact_human_agent";
const AMBIGUOUS: &str = "contact_customer_service";
const COMPLAINT: &str = "complaint";
/// Seed of the upset copies of the routine requests.
const UPSET_SEED: u64 = 15;

/// GoEmotions labels that make a message strongly negative here.
const NEGATIVE_LABELS: [&str; 3] = ["anger", "annoyance", "disgust"];

/// One labelled item of the simulation.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) record: Record,
    group: Group,
}

/// The labelled set, group by group (each capped at `max_per_group` by
/// [`super::sample::stable_sample`]).
pub(crate) fn assemble(
    root: &Path,
    split: Split,
    max_per_group: Option<usize>,
) -> Result<Vec<Case>, DataError> {
    let bitext = data::load(root, BITEXT, split)?;
    let clinc = data::load(root, "clinc150", split)?;
    let go = data::load(root, "goemotions", split)?;
    let intent_is = |r: &Record, l: &str| r.intent.as_deref() == Some(l);
    let mut groups: BTreeMap<Group, Vec<Record>> = BTreeMap::new();
    for r in bitext {
        let g = if intent_is(&r, HUMAN) {
            Group::HumanRequest
        } else if intent_is(&r, COMPLAINT) {
            Group::Complaint
        } else if intent_is(&r, AMBIGUOUS) || r.intent.is_none() {
            continue;
        } else {
            Group::Routine
        };
        groups.entry(g).or_default().push(r);
    }
    groups.insert(
        Group::OutOfScope,
        clinc
            .into_iter()
            .filter(|r| intent_is(r, data::OOS))
            .collect(),
    );
    groups.insert(
        Group::StronglyNegative,
        go.into_iter().filter(strongly_negative).collect(),
    );
    // Upset copies of the routine requests, seeded so every run sees the same texts.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(UPSET_SEED);
    let upset = groups
        .get(&Group::Routine)
        .map(|routine| {
            routine
                .iter()
                .map(|r| {
                    let (text, _) = upset::upset_with(&r.text, upset::Markers::HeldOut, &mut rng);
                    Record { text, ..r.clone() }
                })
                .collect()
        })
        .unwrap_or_default();
    groups.insert(Group::UpsetRequest, upset);
    Ok(Group::ALL
        .iter()
        .flat_map(|&g| {
            let records = groups.remove(&g).unwrap_or_default();
            super::sample::stable_sample(records, max_per_group)
                .into_iter()
                .map(move |record| Case { record, group: g })
        })
        .collect())
}

fn strongly_negative(r: &Record) -> bool {
    let Some(e) = &r.emotions else { return false };
    e.iter().any(|l| NEGATIVE_LABELS.contains(&l.as_str()))
        && !e
            .iter()
            .any(|l| data::sentiment_group(l) == Some("positive"))
}

/// Decisions and figures at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffPoint {
    pub(crate) threshold: f64,
    pub containment: f64,
    pub wrong_answer_rate: f64,
    pub(crate) wrong_answer_share_of_kept: f64,
    pub handoff_precision: f64,
    pub handoff_recall: f64,
    /// Should-hand-off items the bot does not answer itself (handed off or asked to
    /// clarify): a policy that clarifies before handing off is measured here, since the
    /// single-turn simulation cannot see the handoff a second failure brings.
    pub not_kept_recall: f64,
    /// Explicit requests for a human that were handed off.
    pub human_request_recall: f64,
    pub(crate) n_handoff: u64,
    n_clarify: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct GroupFigures {
    pub(crate) group: Group,
    pub(crate) source: &'static str,
    pub(crate) should_hand_off: bool,
    pub(crate) n: u64,
    pub(crate) bot: u64,
    pub(crate) clarify: u64,
    pub(crate) handoff: u64,
    /// Routine only: kept by the bot with the wrong intent.
    pub(crate) kept_wrong: u64,
}

/// One wrong decision at the configured threshold, for the report's examples.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Mistake {
    pub(crate) group: Group,
    pub(crate) text: String,
    pub(crate) action: Action,
    pub(crate) intent: String,
    pub(crate) confidence: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gold_intent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandoffEval {
    pub(crate) decider: String,
    pub(crate) intent_set: String,
    pub(crate) split: Split,
    pub n: u64,
    pub threshold: f64,
    pub(crate) groups: Vec<GroupFigures>,
    pub at_threshold: HandoffPoint,
    /// Thresholds 0, 0.02, …, 1 and the configured one.
    pub(crate) sweep: Vec<HandoffPoint>,
    /// Up to [`MISTAKES_PER_GROUP`] wrong decisions per group at the configured threshold.
    pub(crate) mistakes: Vec<Mistake>,
}

const MISTAKES_PER_GROUP: usize = 5;
/// Steps of the threshold sweep (0, 0.02, …, 1).
const SWEEP_STEPS: usize = 50;

/// Runs every case through `decider` at the configured threshold and over the sweep.
/// `responses` are parallel to `cases`.
pub(crate) fn simulate(
    cases: &[Case],
    responses: &[ClassifyResponse],
    decider: &dyn HandoffDecider,
    intent_set: &str,
    split: Split,
) -> HandoffEval {
    let configured = decider.threshold();
    let decide_all = |t: f32| -> Vec<Action> {
        cases
            .iter()
            .zip(responses)
            .map(|(c, r)| {
                let req = HandoffRequest {
                    text: &c.record.text,
                    channel: c.record.channel,
                };
                decider.decide(&req, r, t)
            })
            .collect()
    };
    let wrong_intent: Vec<bool> = cases
        .iter()
        .zip(responses)
        .map(|(c, r)| {
            c.group == Group::Routine
                && r.intent.as_ref().map(|i| i.label.as_str()) != c.record.intent.as_deref()
        })
        .collect();

    let actions = decide_all(configured);
    let at_threshold = point(super::decimal(configured), cases, &actions, &wrong_intent);
    // Thresholds in f64 for the report (0.1, not 0.10000000149); deciders get f32.
    let mut thresholds: Vec<f64> = (0..=SWEEP_STEPS)
        .map(|i| i as f64 / SWEEP_STEPS as f64)
        .collect();
    thresholds.push(super::decimal(configured));
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let sweep = thresholds
        .iter()
        .map(|&t| point(t, cases, &decide_all(t as f32), &wrong_intent))
        .collect();

    let groups = Group::ALL
        .iter()
        .map(|&g| {
            let idx: Vec<usize> = (0..cases.len()).filter(|&i| cases[i].group == g).collect();
            let count = |a: Action| idx.iter().filter(|&&i| actions[i] == a).count() as u64;
            GroupFigures {
                group: g,
                source: g.source(),
                should_hand_off: g.should_hand_off(),
                n: idx.len() as u64,
                bot: count(Action::Bot),
                clarify: count(Action::Clarify),
                handoff: count(Action::Handoff),
                kept_wrong: idx
                    .iter()
                    .filter(|&&i| actions[i] == Action::Bot && wrong_intent[i])
                    .count() as u64,
            }
        })
        .collect();

    let mut mistakes = Vec::new();
    for g in Group::ALL {
        let wrong = (0..cases.len())
            .filter(|&i| cases[i].group == g)
            .filter(|&i| {
                if g.should_hand_off() {
                    actions[i] == Action::Bot
                } else {
                    actions[i] == Action::Bot && wrong_intent[i]
                }
            })
            .take(MISTAKES_PER_GROUP);
        for i in wrong {
            let intent = responses[i].intent.as_ref();
            mistakes.push(Mistake {
                group: g,
                text: cases[i].record.text.clone(),
                action: actions[i],
                intent: intent.map(|x| x.label.clone()).unwrap_or_default(),
                confidence: intent.map(|x| x.confidence).unwrap_or(0.0),
                gold_intent: (g == Group::Routine)
                    .then(|| cases[i].record.intent.clone())
                    .flatten(),
            });
        }
    }

    HandoffEval {
        decider: decider.name(),
        intent_set: intent_set.to_string(),
        split,
        n: cases.len() as u64,
        threshold: super::decimal(configured),
        groups,
        at_threshold,
        sweep,
        mistakes,
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn point(
    threshold: f64,
    cases: &[Case],
    actions: &[Action],
    wrong_intent: &[bool],
) -> HandoffPoint {
    let routine: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].group == Group::Routine)
        .collect();
    let kept = routine
        .iter()
        .filter(|&&i| actions[i] == Action::Bot)
        .count();
    let kept_wrong = routine
        .iter()
        .filter(|&&i| actions[i] == Action::Bot && wrong_intent[i])
        .count();
    let should = (0..cases.len())
        .filter(|&i| cases[i].group.should_hand_off())
        .count();
    let handoffs: Vec<usize> = (0..cases.len())
        .filter(|&i| actions[i] == Action::Handoff)
        .collect();
    let right_handoffs = handoffs
        .iter()
        .filter(|&&i| cases[i].group.should_hand_off())
        .count();
    let not_kept = (0..cases.len())
        .filter(|&i| cases[i].group.should_hand_off() && actions[i] != Action::Bot)
        .count();
    let human: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].group == Group::HumanRequest)
        .collect();
    let human_handed = human
        .iter()
        .filter(|&&i| actions[i] == Action::Handoff)
        .count();
    HandoffPoint {
        threshold,
        containment: ratio(kept, routine.len()),
        wrong_answer_rate: ratio(kept_wrong, routine.len()),
        wrong_answer_share_of_kept: ratio(kept_wrong, kept),
        handoff_precision: ratio(right_handoffs, handoffs.len()),
        handoff_recall: ratio(right_handoffs, should),
        not_kept_recall: ratio(not_kept, should),
        human_request_recall: ratio(human_handed, human.len()),
        n_handoff: handoffs.len() as u64,
        n_clarify: actions.iter().filter(|&&a| a == Action::Clarify).count() as u64,
    }
}

/// The headline figures, by the names floors use, then each group's shares of `bot` and
/// `handoff` (`out_of_scope.bot`, `strongly_negative.handoff`, …).
pub(crate) fn figures(e: &HandoffEval) -> Vec<(String, f64)> {
    let p = &e.at_threshold;
    let groups = e.groups.iter().flat_map(|g| {
        let share = |k: u64| ratio(k as usize, g.n as usize);
        [
            (format!("{}.bot", g.group.as_str()), share(g.bot)),
            (format!("{}.handoff", g.group.as_str()), share(g.handoff)),
        ]
    });
    let mut f = vec![
        ("n".to_string(), e.n as f64),
        ("containment".into(), p.containment),
        ("wrong_answer_rate".into(), p.wrong_answer_rate),
        (
            "wrong_answer_share_of_kept".into(),
            p.wrong_answer_share_of_kept,
        ),
        ("handoff_precision".into(), p.handoff_precision),
        ("handoff_recall".into(), p.handoff_recall),
        ("not_kept_recall".into(), p.not_kept_recall),
        ("human_request_recall".into(), p.human_request_recall),
    ];
    f.extend(groups);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::api::ModelInfo;
    use triage_core::model::IntentResult;

    fn case(group: Group, intent: Option<&str>) -> Case {
        Case {
            record: Record {
                text: format!("{group:?} {intent:?}"),
                intent: intent.map(String::from),
                ..Default::default()
            },
            group,
        }
    }

    fn resp(label: &str, confidence: f32) -> ClassifyResponse {
        ClassifyResponse {
            intent: Some(IntentResult {
                set: "support".into(),
                label: label.into(),
                confidence,
                out_of_scope: false,
                top: vec![],
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

    /// Clarifies everything except explicit human requests, which it hands off.
    struct ClarifyFirst;

    impl HandoffDecider for ClarifyFirst {
        fn name(&self) -> String {
            "clarify first".into()
        }
        fn threshold(&self) -> f32 {
            0.5
        }
        fn decide(&self, r: &HandoffRequest<'_>, _: &ClassifyResponse, _: f32) -> Action {
            if r.text.contains("HumanRequest") {
                Action::Handoff
            } else {
                Action::Clarify
            }
        }
    }

    #[test]
    fn clarify_is_not_kept_and_human_requests_are_counted_apart() {
        let cases = vec![
            case(Group::Routine, Some("track_order")),
            case(Group::HumanRequest, Some("contact_human_agent")),
            case(Group::OutOfScope, Some("oos")),
            case(Group::StronglyNegative, None),
        ];
        let responses: Vec<_> = (0..4).map(|_| resp("track_order", 0.9)).collect();
        let e = simulate(&cases, &responses, &ClarifyFirst, "support", Split::Test);
        let p = &e.at_threshold;
        assert_eq!(p.containment, 0.0);
        assert_eq!(p.human_request_recall, 1.0);
        assert!((p.handoff_recall - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(p.not_kept_recall, 1.0);
        assert_eq!(p.n_clarify, 3);
    }

    #[test]
    fn hand_computed_figures_and_sweep() {
        let cases = vec![
            case(Group::Routine, Some("track_order")),  // right, 0.9
            case(Group::Routine, Some("track_order")),  // wrong, 0.6
            case(Group::Routine, Some("cancel_order")), // right, 0.3
            case(Group::Complaint, Some("complaint")),  // 0.95 -> kept (missed)
            case(Group::OutOfScope, Some("oos")),       // 0.2 -> handed off
        ];
        let responses = vec![
            resp("track_order", 0.9),
            resp("get_refund", 0.6),
            resp("cancel_order", 0.3),
            resp("complaint", 0.95),
            resp("track_order", 0.2),
        ];
        let d = ConfidenceThreshold { threshold: 0.5 };
        let e = simulate(&cases, &responses, &d, "support", Split::Test);
        let p = &e.at_threshold;
        assert_eq!(
            p.human_request_recall, 0.0,
            "no human requests: ratio of nothing"
        );
        assert!((p.containment - 2.0 / 3.0).abs() < 1e-12);
        assert!((p.wrong_answer_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(p.wrong_answer_share_of_kept, 0.5);
        // handoffs: routine #3 and oos -> precision 1/2; should: complaint, oos -> recall 1/2
        assert_eq!(p.handoff_precision, 0.5);
        assert_eq!(p.handoff_recall, 0.5);
        assert_eq!(p.not_kept_recall, 0.5);
        assert_eq!(p.n_handoff, 2);
        // Threshold 0 keeps everything; 1 hands everything off.
        let at = |t: f64| e.sweep.iter().find(|x| x.threshold == t).unwrap();
        assert_eq!(at(0.0).containment, 1.0);
        assert!((at(0.0).wrong_answer_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(at(0.0).handoff_recall, 0.0);
        assert_eq!(at(1.0).containment, 0.0);
        assert_eq!(at(1.0).handoff_recall, 1.0);
        assert!((at(1.0).handoff_precision - 2.0 / 5.0).abs() < 1e-12);
        assert_eq!(at(0.5), p, "configured point is on the sweep");
        let complaint = e
            .groups
            .iter()
            .find(|g| g.group == Group::Complaint)
            .unwrap();
        assert_eq!((complaint.n, complaint.bot, complaint.handoff), (1, 1, 0));
        let routine = &e.groups[0];
        assert_eq!((routine.n, routine.bot, routine.kept_wrong), (3, 2, 1));
        // Mistakes: the wrong routine answer and the kept complaint.
        let groups: Vec<Group> = e.mistakes.iter().map(|m| m.group).collect();
        assert_eq!(groups, vec![Group::Routine, Group::Complaint]);
        assert_eq!(e.mistakes[0].gold_intent.as_deref(), Some("track_order"));
        // Every figure can carry a floor, and every floor name is a figure.
        let f = figures(&e);
        let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        let (headline, groups) = names.split_at(crate::eval::suite::HANDOFF_FIGURES.len());
        assert_eq!(headline, crate::eval::suite::HANDOFF_FIGURES);
        assert_eq!(groups.len(), 2 * Group::ALL.len());
        assert!(groups
            .iter()
            .all(|g| crate::eval::suite::handoff_group_figure(g)));
    }

    #[test]
    fn out_of_scope_answers_are_handed_off() {
        let mut r = resp("oos", 0.99);
        if let Some(i) = r.intent.as_mut() {
            i.out_of_scope = true;
        }
        let req = HandoffRequest {
            text: "x",
            channel: Channel::Chat,
        };
        let d = ConfidenceThreshold { threshold: 0.1 };
        assert_eq!(d.decide(&req, &r, 0.1), Action::Handoff);
        assert_eq!(d.decide(&req, &resp("a", 0.1), 0.1), Action::Bot);
    }

    #[test]
    fn assembled_from_the_test_splits() {
        let cases = assemble(&data::default_root(), Split::Test, Some(40)).unwrap();
        for g in Group::ALL {
            let n = cases.iter().filter(|c| c.group == g).count();
            assert!(n > 0 && n <= 40, "{g:?}: {n}");
        }
        for c in &cases {
            match c.group {
                Group::Routine => {
                    let i = c.record.intent.as_deref().unwrap();
                    assert!(![HUMAN, AMBIGUOUS, COMPLAINT].contains(&i), "{i}");
                }
                Group::HumanRequest => assert_eq!(c.record.intent.as_deref(), Some(HUMAN)),
                Group::Complaint => assert_eq!(c.record.intent.as_deref(), Some(COMPLAINT)),
                Group::OutOfScope => assert_eq!(c.record.intent.as_deref(), Some("oos")),
                Group::StronglyNegative => {
                    assert!(strongly_negative(&c.record));
                    assert_eq!(c.record.channel, Channel::Social);
                }
                Group::UpsetRequest => {
                    let i = c.record.intent.as_deref().unwrap();
                    assert!(![HUMAN, AMBIGUOUS, COMPLAINT].contains(&i), "{i}");
                }
            }
        }
    }
}
