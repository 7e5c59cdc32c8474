//! Every rule of the shipped policy (`config/policy.toml`) in a scripted conversation, in
//! English and in Chinese, driven through the pure `Policy::decide` with constructed
//! classifier outputs (so the figures are exact). Each turn asserts the exact set of
//! reasons: the rule under test fires, and nothing else fires by accident.
//!
//! Chinese turns come in two kinds. With the shipped English-only bundle the model's
//! scores on Chinese are not trusted (`model_covers_lang: false`), so those turns must be
//! decided by phrase lists and the lexicon; the intent given to them is deliberately
//! misleading to prove it is ignored. Rules that only a model can drive (confidence,
//! ambiguity, out-of-scope, repeated failure) are scripted as a Chinese-capable bundle
//! would answer (`model_covers_lang: true`).

mod common;

use std::collections::BTreeMap;
use triage_core::api::Customer;
use triage_core::model::{EmotionResult, IntentResult, LabelScore, Sentiment};
use triage_core::policy::{
    Action, Decision, Policy, PolicyConfig, Priority, ReasonCode, Severity, StoredTurn, TurnInput,
};
use triage_core::text::Channel;
use ReasonCode::*;

fn shipped() -> PolicyConfig {
    PolicyConfig::load(&common::repo_path("config/policy.toml")).expect("shipped policy loads")
}

fn policy() -> Policy {
    Policy::new(shipped()).unwrap()
}

/// An intent answer with its top two.
fn intent(set: &str, label: &str, conf: f32, second: &str, second_score: f32) -> IntentResult {
    IntentResult {
        set: set.into(),
        label: label.into(),
        confidence: conf,
        out_of_scope: false,
        top: vec![
            LabelScore {
                label: label.into(),
                score: conf,
            },
            LabelScore {
                label: second.into(),
                score: second_score,
            },
        ],
    }
}

/// A support intent whose runner-up is far behind (a quarter of it): never ambiguous.
fn support(label: &str, conf: f32) -> IntentResult {
    intent("support", label, conf, "track_refund", conf / 4.0)
}

fn oos(conf: f32) -> IntentResult {
    IntentResult {
        out_of_scope: true,
        ..intent("clinc", "oos", conf, "weather", (1.0 - conf) / 2.0)
    }
}

/// An emotion answer: every label at 0.02 except those given; sentiment score given;
/// frustration is the noisy-OR of anger, annoyance, disappointment and disgust, as the
/// emotion head computes it.
fn emotion(given: &[(&str, f32)], sentiment: f32) -> EmotionResult {
    let mut scores: BTreeMap<String, f32> = triage_lab::data::goemotions_labels()
        .iter()
        .map(|l| (l.to_string(), 0.02))
        .collect();
    for (l, s) in given {
        scores.insert(l.to_string(), *s);
    }
    let frustration = 1.0
        - ["anger", "annoyance", "disappointment", "disgust"]
            .iter()
            .map(|l| 1.0 - scores[*l])
            .product::<f32>();
    EmotionResult {
        labels: given.iter().map(|(l, _)| l.to_string()).collect(),
        dominant: given.first().map_or("neutral", |g| g.0).to_string(),
        scores,
        sentiment: Sentiment {
            label: if sentiment <= -0.2 {
                "negative"
            } else if sentiment >= 0.2 {
                "positive"
            } else {
                "neutral"
            }
            .into(),
            score: sentiment,
        },
        frustration,
        groups: vec![],
    }
}

fn calm() -> EmotionResult {
    emotion(&[("neutral", 0.8)], 0.0)
}

/// An English turn the shipped model reads.
fn en(text: &str, intent: IntentResult, emotion: EmotionResult) -> TurnInput {
    TurnInput::new(text, Some(intent), Some(emotion))
}

/// A Chinese turn on the English-only bundle: the model's guesses are there but not
/// trusted. The intent is a confident wrong one on purpose.
fn zh(text: &str) -> TurnInput {
    TurnInput {
        model_covers_lang: false,
        ..TurnInput::new(
            text,
            Some(support("delete_account", 0.99)),
            Some(emotion(&[("anger", 0.99)], -0.99)),
        )
    }
}

/// A Chinese turn as a Chinese-capable bundle would answer it.
fn zh_model(text: &str, intent: IntentResult, emotion: EmotionResult) -> TurnInput {
    let t = TurnInput::new(text, Some(intent), Some(emotion));
    assert_eq!(t.lang, "zh");
    t
}

fn on(mut t: TurnInput, channel: Channel) -> TurnInput {
    t.channel = channel;
    t
}

fn tier(mut t: TurnInput, tier: &str) -> TurnInput {
    t.customer = Some(Customer {
        id: Some("u-1".into()),
        tier: Some(tier.into()),
    });
    t
}

/// A conversation: each turn is decided against the turns before it, then stored as the
/// server would store it. Turns are 20 s apart.
struct Conversation<'a> {
    policy: &'a Policy,
    history: Vec<StoredTurn>,
    now: u64,
}

impl<'a> Conversation<'a> {
    fn new(policy: &'a Policy) -> Self {
        Self {
            policy,
            history: Vec::new(),
            now: 1_800_000_000_000,
        }
    }

    /// Decides `turn` and checks its reasons are exactly `expect` (in any order).
    fn say(&mut self, turn: TurnInput, expect: &[ReasonCode]) -> Decision {
        self.now += 20_000;
        let d = self.policy.decide(&turn, &self.history, self.now);
        let mut got = d.codes();
        got.sort();
        let mut want = expect.to_vec();
        want.sort();
        assert_eq!(got, want, "turn {:?}: reasons {:#?}", turn.text, d.reasons);
        self.history.push(StoredTurn {
            at_ms: self.now,
            text: Some(turn.text.clone()),
            channel: turn.channel.to_string(),
            lang: turn.lang.clone(),
            customer: turn.customer.clone(),
            intent: turn.intent.as_ref().map(Into::into),
            emotion: turn.emotion.as_ref().map(Into::into),
            negativity: self.policy.negativity(&turn),
            handoff: d.clone(),
            suggestions_shown: vec![],
            model: None,
        });
        d
    }
}

#[test]
fn routine_turns_fire_nothing() {
    let p = policy();
    let mut c = Conversation::new(&p);
    let d = c.say(
        en("where is my order?", support("track_order", 0.96), calm()),
        &[],
    );
    assert_eq!(
        (d.action, d.priority, d.severity),
        (Action::Bot, Priority::Normal, Severity::Basic)
    );
    assert_eq!(d.skill_group, "orders");
    assert_eq!(d.issue_type.as_deref(), Some("track_order"));
    c.say(
        en(
            "thanks, and can I get an invoice?",
            support("get_invoice", 0.93),
            calm(),
        ),
        &[],
    );
    let mut c = Conversation::new(&p);
    let d = c.say(zh("我的快递到哪里了"), &[]);
    assert_eq!(d.action, Action::Bot);
    assert_eq!(d.issue_type, None, "an untrusted intent is no issue type");
    c.say(zh("好的,谢谢"), &[]);
}

#[test]
fn low_confidence_asks_to_clarify() {
    let p = policy();
    let mut c = Conversation::new(&p);
    c.say(en("hi", support("track_order", 0.95), calm()), &[]);
    let d = c.say(
        en(
            "the thing with my stuff",
            support("change_order", 0.42),
            calm(),
        ),
        &[LowConfidence],
    );
    assert_eq!(d.action, Action::Clarify);
    assert!(
        d.reasons[0].detail.contains("0.42 < 0.70"),
        "{}",
        d.reasons[0].detail
    );

    let mut c = Conversation::new(&p);
    let d = c.say(
        zh_model("那个东西怎么弄", support("change_order", 0.40), calm()),
        &[LowConfidence],
    );
    assert_eq!(d.action, Action::Clarify);
}

#[test]
fn ambiguity_offers_the_two_intents() {
    let p = policy();
    let mut c = Conversation::new(&p);
    let d = c.say(
        en(
            "my refund",
            intent("support", "get_refund", 0.48, "track_refund", 0.44),
            calm(),
        ),
        &[Ambiguous],
    );
    assert_eq!(d.action, Action::Clarify);
    assert!(
        d.reasons[0]
            .detail
            .contains("get_refund 0.48 vs track_refund 0.44"),
        "{}",
        d.reasons[0].detail
    );
    // Lost rather than torn: the top two hold under half the probability.
    c.say(
        en(
            "hmm",
            intent("support", "get_refund", 0.2, "track_refund", 0.15),
            calm(),
        ),
        &[LowConfidence],
    );

    let mut c = Conversation::new(&p);
    c.say(
        zh_model(
            "退款",
            intent("support", "get_refund", 0.47, "track_refund", 0.45),
            calm(),
        ),
        &[Ambiguous],
    );
}

#[test]
fn out_of_scope_goes_to_a_person() {
    let p = policy();
    let mut c = Conversation::new(&p);
    let d = c.say(
        en("what's the meaning of life", oos(0.55), calm()),
        &[OutOfScope],
    );
    assert_eq!(d.action, Action::Handoff);
    let mut c = Conversation::new(&p);
    c.say(zh_model("今天天气怎么样", oos(0.6), calm()), &[OutOfScope]);
}

#[test]
fn explicit_request_for_a_human_by_intent_or_phrase() {
    let p = policy();
    let mut c = Conversation::new(&p);
    c.say(
        en("where is my order", support("track_order", 0.95), calm()),
        &[],
    );
    let d = c.say(
        en(
            "let me talk to someone",
            support("contact_human_agent", 0.98),
            calm(),
        ),
        &[HumanRequested],
    );
    assert_eq!(d.action, Action::Handoff);
    assert_eq!(d.issue_type, None, "asking for a person is no issue type");
    // The phrase alone, whatever the intent head thought.
    c.say(
        en("real person please", support("track_order", 0.9), calm()),
        &[HumanRequested],
    );
    // Negated: not a request.
    c.say(
        en(
            "I don't need an agent, just the tracking link",
            support("track_order", 0.9),
            calm(),
        ),
        &[],
    );

    // Chinese on the English-only model: the phrase list decides.
    let mut c = Conversation::new(&p);
    c.say(zh("我的快递到哪里了"), &[]);
    let d = c.say(zh("转人工"), &[HumanRequested]);
    assert_eq!(d.action, Action::Handoff);
    assert!(d.reasons[0].detail.contains("转人工"));
    c.say(zh("我要人工客服"), &[HumanRequested]);
    c.say(zh("能不能找个真人"), &[HumanRequested]);
    c.say(zh("不用转人工了,谢谢"), &[]);
}

#[test]
fn complex_intents_go_to_their_skill_group() {
    let p = policy();
    let mut c = Conversation::new(&p);
    let d = c.say(
        en(
            "I want to complain about the courier",
            support("complaint", 0.95),
            calm(),
        ),
        &[ComplexIntent],
    );
    assert_eq!(
        (d.action, d.severity, d.priority),
        (Action::Handoff, Severity::Complex, Priority::High)
    );
    assert_eq!(d.skill_group, "complaints");
    assert_eq!(d.response_time_secs, 600);
    let d = c.say(
        en(
            "someone used my card, I want a chargeback",
            intent(
                "banking",
                "card_payment_not_recognised",
                0.9,
                "compromised_card",
                0.05,
            ),
            calm(),
        ),
        &[ComplexIntent],
    );
    assert_eq!(d.skill_group, "disputes");

    let mut c = Conversation::new(&p);
    let d = c.say(zh("我要投诉你们的快递员"), &[ComplexIntent]);
    assert_eq!(d.skill_group, "complaints");
    assert_eq!(d.issue_type.as_deref(), Some("complaint"));
    assert_eq!(
        c.say(zh("我的账号被封了"), &[ComplexIntent]).skill_group,
        "trust_safety"
    );
    assert_eq!(
        c.say(zh("我要找律师"), &[ComplexIntent]).skill_group,
        "compliance"
    );
}

#[test]
fn negative_emotion_hands_off_with_the_figures() {
    let p = policy();
    let mut c = Conversation::new(&p);
    c.say(
        en("where is my order", support("track_order", 0.95), calm()),
        &[],
    );
    let d = c.say(
        en(
            "still nothing??",
            support("track_order", 0.95),
            emotion(&[("anger", 0.99)], 0.0),
        ),
        &[NegativeEmotion],
    );
    assert_eq!((d.action, d.priority), (Action::Handoff, Priority::High));
    assert!(
        d.reasons[0].detail.contains("anger 0.99 >= 0.75"),
        "{}",
        d.reasons[0].detail
    );
    assert_eq!(d.skill_group, "orders");

    let mut c = Conversation::new(&p);
    c.say(zh("我的快递到哪里了"), &[]);
    let d = c.say(zh("气死我了,快递还没到"), &[NegativeEmotion]);
    assert!(
        d.reasons[0].detail.contains("气死"),
        "{}",
        d.reasons[0].detail
    );
}

#[test]
fn rising_negativity_over_three_turns() {
    let p = policy();
    let mut c = Conversation::new(&p);
    c.say(
        en(
            "where is my order",
            support("track_order", 0.95),
            emotion(&[], -0.05),
        ),
        &[],
    );
    c.say(
        en(
            "it should be here by now",
            support("track_order", 0.95),
            emotion(&[], -0.22),
        ),
        &[],
    );
    // Each step more negative, 0.35 in all, every figure under the negative-emotion bar.
    let d = c.say(
        en(
            "this keeps happening",
            support("track_order", 0.95),
            emotion(&[], -0.40),
        ),
        &[RisingNegativity],
    );
    assert_eq!(d.action, Action::Handoff);
    assert!(
        d.reasons[0].detail.contains("0.05 → 0.22 → 0.40"),
        "{}",
        d.reasons[0].detail
    );

    let mut c = Conversation::new(&p);
    c.say(zh("你好,我的快递到哪了"), &[]);
    c.say(zh("怎么还没发货"), &[]);
    let d = c.say(zh("有点失望"), &[RisingNegativity]);
    assert_eq!(d.action, Action::Handoff);

    // Not rising at every step: nothing.
    let mut c = Conversation::new(&p);
    c.say(zh("怎么还没发货"), &[]);
    c.say(zh("好的"), &[]);
    c.say(zh("有点失望"), &[]);
}

#[test]
fn repeated_failure_hands_off_on_the_third() {
    let p = policy();
    let mut c = Conversation::new(&p);
    assert_eq!(
        c.say(
            en("the thing", support("change_order", 0.4), calm()),
            &[LowConfidence]
        )
        .action,
        Action::Clarify
    );
    assert_eq!(
        c.say(
            en("you know, the thing", support("get_refund", 0.5), calm()),
            &[LowConfidence]
        )
        .action,
        Action::Clarify
    );
    let d = c.say(
        en("the THING", support("change_order", 0.45), calm()),
        &[LowConfidence, RepeatedFailure],
    );
    assert_eq!((d.action, d.priority), (Action::Handoff, Priority::High));
    // A recognised turn ends the streak.
    let mut c = Conversation::new(&p);
    c.say(
        en("the thing", support("change_order", 0.4), calm()),
        &[LowConfidence],
    );
    c.say(
        en("cancel my order", support("cancel_order", 0.95), calm()),
        &[],
    );
    c.say(
        en("the thing", support("change_order", 0.4), calm()),
        &[LowConfidence],
    );

    let mut c = Conversation::new(&p);
    c.say(
        zh_model("那个", support("change_order", 0.3), calm()),
        &[LowConfidence],
    );
    c.say(
        zh_model(
            "就是那个",
            intent("support", "get_refund", 0.46, "track_refund", 0.44),
            calm(),
        ),
        &[Ambiguous],
    );
    let d = c.say(
        zh_model("那个啊", support("change_order", 0.35), calm()),
        &[LowConfidence, RepeatedFailure],
    );
    assert_eq!(d.action, Action::Handoff);
}

#[test]
fn vip_tier_gets_priority_and_a_lower_bar() {
    let p = policy();
    // Mildly annoyed: under the standard bar (0.75), over the VIP one (0.75 × 0.7).
    let mild = || {
        en(
            "hmm, still waiting",
            support("track_order", 0.95),
            emotion(&[("anger", 0.65)], 0.0),
        )
    };
    Conversation::new(&p).say(mild(), &[]);
    let d = Conversation::new(&p).say(tier(mild(), "VIP"), &[NegativeEmotion, CustomerTier]);
    assert_eq!((d.action, d.priority), (Action::Handoff, Priority::Urgent));
    let detail = &d
        .reasons
        .iter()
        .find(|r| r.code == CustomerTier)
        .unwrap()
        .detail;
    assert!(detail.starts_with("vip: bot → handoff"), "{detail}");
    // A VIP who asks for a person is served first.
    let d = Conversation::new(&p).say(
        tier(
            en("agent", support("contact_human_agent", 0.97), calm()),
            "vip",
        ),
        &[HumanRequested, CustomerTier],
    );
    assert_eq!(d.priority, Priority::Urgent);
    // A VIP is not asked to clarify: a person takes over.
    let d = Conversation::new(&p).say(
        tier(en("the thing", support("change_order", 0.4), calm()), "vip"),
        &[LowConfidence, CustomerTier],
    );
    assert_eq!(d.action, Action::Handoff);
    // A gold customer gets high priority; a routine VIP turn changes nothing.
    let d = Conversation::new(&p).say(
        tier(
            en("agent", support("contact_human_agent", 0.97), calm()),
            "gold",
        ),
        &[HumanRequested, CustomerTier],
    );
    assert_eq!(d.priority, Priority::High);
    Conversation::new(&p).say(
        tier(
            en("where is my order", support("track_order", 0.95), calm()),
            "vip",
        ),
        &[],
    );

    // Chinese: "失望" scores 0.55, under the 0.6 bar, over the VIP's 0.42.
    Conversation::new(&p).say(zh("收到的东西让人失望"), &[]);
    let d = Conversation::new(&p).say(
        tier(zh("收到的东西让人失望"), "vip"),
        &[NegativeEmotion, CustomerTier],
    );
    assert_eq!(d.priority, Priority::Urgent);
}

#[test]
fn sensitive_operations_go_to_a_person_or_ask_for_confirmation() {
    let p = policy();
    let mut c = Conversation::new(&p);
    let d = c.say(
        en("delete my account", support("delete_account", 0.97), calm()),
        &[SensitiveOperation],
    );
    assert_eq!(
        (d.action, d.skill_group.as_str()),
        (Action::Handoff, "account_security")
    );
    let d = c.say(
        en(
            "transfer $500 to savings",
            intent("clinc", "transfer", 0.93, "balance", 0.03),
            calm(),
        ),
        &[SensitiveOperation],
    );
    assert_eq!(
        (d.action, d.skill_group.as_str()),
        (Action::Clarify, "payments")
    );
    assert!(d.reasons[0].detail.contains("confirmation"));

    let mut c = Conversation::new(&p);
    assert_eq!(
        c.say(zh("我要注销账号"), &[SensitiveOperation]).action,
        Action::Handoff
    );
    assert_eq!(
        c.say(zh("帮我转账给张三"), &[SensitiveOperation]).action,
        Action::Clarify
    );
}

#[test]
fn surge_of_one_issue_is_a_major_incident() {
    let p = policy();
    let at = |n: usize, mut t: TurnInput| {
        t.surge_count = Some(n);
        t
    };
    let pay = || {
        en(
            "my payment keeps failing",
            support("payment_issue", 0.95),
            calm(),
        )
    };
    Conversation::new(&p).say(at(19, pay()), &[]);
    let d = Conversation::new(&p).say(at(20, pay()), &[Surge]);
    assert_eq!(
        (d.action, d.severity, d.priority),
        (Action::Handoff, Severity::Major, Priority::Urgent)
    );
    assert_eq!(
        (d.skill_group.as_str(), d.response_time_secs),
        ("incident", 60)
    );
    // Not a watched issue: no surge whatever the count.
    Conversation::new(&p).say(
        at(500, en("invoice", support("get_invoice", 0.95), calm())),
        &[],
    );

    let zh_pay = || zh_model("付款一直失败", support("payment_issue", 0.9), calm());
    Conversation::new(&p).say(at(19, zh_pay()), &[]);
    Conversation::new(&p).say(at(20, zh_pay()), &[Surge]);
    // On the English-only model the complaint phrase is the issue type.
    let d = Conversation::new(&p).say(at(25, zh("我要投诉,又没收到货")), &[ComplexIntent, Surge]);
    assert_eq!(
        (d.severity, d.skill_group.as_str()),
        (Severity::Major, "incident")
    );
}

#[test]
fn voice_asks_once_before_handing_off() {
    let p = policy();
    let mut c = Conversation::new(&p);
    let d = c.say(
        on(
            en("what is the meaning of life", oos(0.5), calm()),
            Channel::Voice,
        ),
        &[OutOfScope, ChannelOverride],
    );
    assert_eq!(d.action, Action::Clarify);
    assert!(
        d.reasons[1].detail.starts_with("voice: handoff → clarify"),
        "{}",
        d.reasons[1].detail
    );
    let d = c.say(
        on(en("the meaning of life", oos(0.5), calm()), Channel::Voice),
        &[OutOfScope],
    );
    assert_eq!(d.action, Action::Handoff);
    // Asking for a person is never delayed.
    Conversation::new(&p).say(
        on(
            en("agent", support("contact_human_agent", 0.97), calm()),
            Channel::Voice,
        ),
        &[HumanRequested],
    );

    let mut c = Conversation::new(&p);
    assert_eq!(
        c.say(
            on(zh_model("今天天气怎么样", oos(0.6), calm()), Channel::Voice),
            &[OutOfScope, ChannelOverride]
        )
        .action,
        Action::Clarify
    );
    assert_eq!(
        c.say(
            on(zh_model("天气", oos(0.6), calm()), Channel::Voice),
            &[OutOfScope]
        )
        .action,
        Action::Handoff
    );
}

#[test]
fn negative_social_posts_escalate_sooner_and_first() {
    let p = policy();
    let post = || {
        en(
            "@shop still no parcel",
            support("track_order", 0.95),
            // under the standard bar (0.75), over the social one (0.75 × 0.8)
            emotion(&[("anger", 0.65)], 0.0),
        )
    };
    Conversation::new(&p).say(post(), &[]);
    let d = Conversation::new(&p).say(
        on(post(), Channel::Social),
        &[NegativeEmotion, ChannelOverride],
    );
    assert_eq!((d.action, d.priority), (Action::Handoff, Priority::High));

    Conversation::new(&p).say(zh("收到的东西让人失望"), &[]);
    Conversation::new(&p).say(
        on(zh("收到的东西让人失望"), Channel::Social),
        &[NegativeEmotion, ChannelOverride],
    );
}

#[test]
fn old_turns_do_not_count() {
    let p = policy();
    let mut c = Conversation::new(&p);
    c.say(
        en("the thing", support("change_order", 0.4), calm()),
        &[LowConfidence],
    );
    c.say(
        en("the thing", support("change_order", 0.4), calm()),
        &[LowConfidence],
    );
    c.now += 31 * 60 * 1000; // past history_secs
    c.say(
        en("the thing", support("change_order", 0.4), calm()),
        &[LowConfidence],
    );
}

#[test]
fn shadow_mode_reports_without_acting() {
    let mut cfg = shipped();
    cfg.mode = triage_core::policy::config::Mode::Shadow;
    let p = Policy::new(cfg).unwrap();
    let d = Conversation::new(&p).say(
        en("agent", support("contact_human_agent", 0.97), calm()),
        &[HumanRequested],
    );
    assert_eq!((d.action, d.shadow), (Action::Bot, Some(Action::Handoff)));
    assert_eq!(d.policy_action(), Action::Handoff);
    let d = Conversation::new(&p).say(
        en("where is my order", support("track_order", 0.95), calm()),
        &[],
    );
    assert_eq!((d.action, d.shadow), (Action::Bot, Some(Action::Bot)));
}

#[test]
fn memory_unavailable_is_a_notice_not_a_rule() {
    let p = policy();
    let mut t = en("where is my order", support("track_order", 0.95), calm());
    t.memory_unavailable = true;
    let d = Conversation::new(&p).say(t, &[MemoryUnavailable]);
    assert_eq!(d.action, Action::Bot);
}

#[test]
fn decisions_serialise_as_the_design_says() {
    let p = policy();
    let d = Conversation::new(&p).say(
        en(
            "still nothing??",
            support("track_refund", 0.95),
            emotion(&[("anger", 0.99)], -0.8),
        ),
        &[NegativeEmotion],
    );
    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(j["action"], "handoff");
    assert_eq!(j["priority"], "high");
    assert_eq!(j["severity"], "basic");
    assert_eq!(j["skill_group"], "refunds");
    assert_eq!(j["reasons"][0]["code"], "negative_emotion");
    assert!(j["reasons"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("anger 0.99"));
    assert!(j.get("shadow").is_none());
}
