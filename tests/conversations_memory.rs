//! Conversation memory behind the handoff service, without a model: history reaching the
//! rules, surge counting across conversations, TTL and turn limits of the in-process
//! store, the context package, and a store that fails (the decision still comes, with
//! `memory_unavailable`).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use triage_core::config::{MemoryConfig, StoreText};
use triage_core::model::{IntentResult, LabelScore};
use triage_core::policy::{
    Action, ConversationStore, HandoffService, MemoryStore, Policy, PolicyConfig, PolicyHandle,
    ReasonCode, Severity, StoreError, StoredTurn, TurnInput, TurnMeta,
};

fn shipped() -> PolicyConfig {
    PolicyConfig::load(&common::repo_path("config/policy.toml")).unwrap()
}

fn intent(label: &str, conf: f32) -> IntentResult {
    IntentResult {
        set: "support".into(),
        label: label.into(),
        confidence: conf,
        out_of_scope: false,
        top: vec![
            LabelScore {
                label: label.into(),
                score: conf,
            },
            LabelScore {
                label: "review".into(),
                score: conf / 4.0,
            },
        ],
    }
}

fn turn(text: &str, label: &str, conf: f32) -> TurnInput {
    TurnInput::new(text, Some(intent(label, conf)), None)
}

fn meta(id: &str, raw: &str) -> TurnMeta {
    TurnMeta {
        conversation_id: Some(id.into()),
        raw_text: raw.into(),
        suggestions: vec![],
        bot_answer: None,
        model: None,
        ..TurnMeta::default()
    }
}

fn service(
    cfg: PolicyConfig,
    store: Box<dyn ConversationStore>,
    memory: MemoryConfig,
) -> HandoffService {
    HandoffService::new(
        Arc::new(PolicyHandle::fixed(Policy::new(cfg).unwrap())),
        store,
        memory,
    )
}

const T0: u64 = 1_800_000_000_000;

#[test]
fn history_reaches_the_rules_and_the_context_package() {
    let mem = MemoryConfig::default();
    let svc = service(shipped(), Box::new(MemoryStore::new(&mem)), mem);
    for (i, text) in ["the thing", "that thing", "the THING"].iter().enumerate() {
        let d = svc.handle(
            turn(text, "change_order", 0.4),
            meta("c-1", text),
            T0 + i as u64 * 1000,
        );
        let want = if i < 2 {
            Action::Clarify
        } else {
            Action::Handoff
        };
        assert_eq!(d.action, want, "turn {i}: {:?}", d.reasons);
    }
    let ctx = svc.context("c-1", T0 + 5000).unwrap().expect("kept");
    assert_eq!(ctx.turns.len(), 3);
    assert_eq!(ctx.turns[2].text.as_deref(), Some("the THING"));
    assert!(ctx.handoff.has(ReasonCode::RepeatedFailure));
    assert_eq!(
        ctx.reasons_seen,
        vec![ReasonCode::LowConfidence, ReasonCode::RepeatedFailure]
    );
    // Another conversation does not share the streak.
    let d = svc.handle(
        turn("the thing", "change_order", 0.4),
        meta("c-2", "the thing"),
        T0 + 6000,
    );
    assert_eq!(d.action, Action::Clarify);
    assert!(svc.context("nobody", T0).unwrap().is_none());
}

#[test]
fn surge_counts_distinct_conversations_within_the_window() {
    let mut cfg = shipped();
    cfg.surge.min_conversations = 3;
    cfg.surge.window_secs = 60;
    let mem = MemoryConfig::default();
    let svc = service(cfg, Box::new(MemoryStore::new(&mem)), mem);
    let pay = || turn("my payment failed", "payment_issue", 0.95);
    // The same conversation twice counts once.
    assert!(!svc.handle(pay(), meta("a", "x"), T0).has(ReasonCode::Surge));
    assert!(!svc
        .handle(pay(), meta("a", "x"), T0 + 1000)
        .has(ReasonCode::Surge));
    assert!(!svc
        .handle(pay(), meta("b", "x"), T0 + 2000)
        .has(ReasonCode::Surge));
    let d = svc.handle(pay(), meta("c", "x"), T0 + 3000);
    assert!(d.has(ReasonCode::Surge), "{:?}", d.reasons);
    assert_eq!(
        (d.severity, d.skill_group.as_str()),
        (Severity::Major, "incident")
    );
    assert!(
        d.reasons[0]
            .detail
            .contains("payment_issue in 3 conversations"),
        "{:?}",
        d.reasons
    );
    // Messages without a conversation id each count as one.
    let anon = |at| svc.handle(pay(), TurnMeta::default(), at);
    assert!(anon(T0 + 4000).has(ReasonCode::Surge));
    // Past the window the count starts again.
    let later = T0 + 120_000;
    assert!(!svc
        .handle(pay(), meta("d", "x"), later)
        .has(ReasonCode::Surge));
}

#[test]
fn in_process_store_expires_and_trims() {
    let mem = MemoryConfig {
        ttl_secs: 10,
        max_turns: 3,
        max_conversations: 2,
        ..MemoryConfig::default()
    };
    let store = MemoryStore::new(&mem);
    let svc = service(shipped(), Box::new(MemoryStore::new(&mem)), mem.clone());
    for i in 0..5 {
        svc.handle(
            turn(&format!("turn {i}"), "track_order", 0.95),
            meta("c", &format!("turn {i}")),
            T0 + i * 1000,
        );
    }
    let ctx = svc.context("c", T0 + 5000).unwrap().unwrap();
    let texts: Vec<_> = ctx.turns.iter().map(|t| t.text.clone().unwrap()).collect();
    assert_eq!(
        texts,
        ["turn 2", "turn 3", "turn 4"],
        "newest max_turns kept"
    );
    // TTL counts from the last turn.
    assert!(svc.context("c", T0 + 4000 + 9_999).unwrap().is_some());
    assert!(svc.context("c", T0 + 4000 + 10_000).unwrap().is_none());

    // The cap: a third conversation pushes out the one closest to expiring.
    let t = |at| StoredTurn {
        at_ms: at,
        text: None,
        channel: "chat".into(),
        lang: "en".into(),
        customer: None,
        intent: None,
        emotion: None,
        negativity: 0.0,
        handoff: Policy::new(shipped())
            .unwrap()
            .decide(&turn("x", "track_order", 0.9), &[], at),
        suggestions_shown: vec![],
        model: None,
    };
    store.append("old", &t(T0), T0).unwrap();
    store.append("mid", &t(T0 + 1), T0 + 1).unwrap();
    store.append("new", &t(T0 + 2), T0 + 2).unwrap();
    assert!(store.turns("old", T0 + 3).unwrap().is_empty());
    assert_eq!(store.turns("new", T0 + 3).unwrap().len(), 1);
    assert!(store.len() <= 2);
}

#[test]
fn store_text_can_be_masked_or_dropped() {
    for (mode, want) in [
        (StoreText::Raw, Some("card 4111 1111 1111 1111 please")),
        (StoreText::Masked, Some("card [CARD] please")),
        (StoreText::None, None),
    ] {
        let mem = MemoryConfig {
            store_text: mode,
            ..MemoryConfig::default()
        };
        let svc = service(shipped(), Box::new(MemoryStore::new(&mem)), mem);
        svc.handle(
            turn("x", "payment_issue", 0.9),
            meta("c", "card 4111 1111 1111 1111 please"),
            T0,
        );
        let ctx = svc.context("c", T0).unwrap().unwrap();
        assert_eq!(ctx.turns[0].text.as_deref(), want, "{mode:?}");
    }
}

/// A store that is down until told otherwise.
struct Flaky {
    up: Arc<AtomicBool>,
    inner: MemoryStore,
}

impl ConversationStore for Flaky {
    fn turns(&self, id: &str, now: u64) -> Result<Vec<StoredTurn>, StoreError> {
        self.check()?;
        self.inner.turns(id, now)
    }
    fn append(&self, id: &str, t: &StoredTurn, now: u64) -> Result<(), StoreError> {
        self.check()?;
        self.inner.append(id, t, now)
    }
    fn count_recent(&self, k: &str, m: &str, now: u64, w: u64) -> Result<usize, StoreError> {
        self.check()?;
        self.inner.count_recent(k, m, now, w)
    }
    fn kind(&self) -> &'static str {
        "flaky"
    }
    fn blocking(&self) -> bool {
        false
    }
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::Unavailable("down".into()))
        }
    }
}

#[test]
fn a_failing_store_never_fails_the_decision() {
    let mem = MemoryConfig::default();
    let up = Arc::new(AtomicBool::new(true));
    let svc = service(
        shipped(),
        Box::new(Flaky {
            up: up.clone(),
            inner: MemoryStore::new(&mem),
        }),
        mem,
    );
    let d = svc.handle(
        turn("the thing", "change_order", 0.4),
        meta("c", "the thing"),
        T0,
    );
    assert_eq!(d.codes(), vec![ReasonCode::LowConfidence]);
    up.store(false, Ordering::SeqCst);
    let d = svc.handle(
        turn("agent please", "contact_human_agent", 0.97),
        meta("c", "agent please"),
        T0 + 1000,
    );
    assert_eq!(
        d.action,
        Action::Handoff,
        "rules without history still decide"
    );
    assert_eq!(
        d.codes(),
        vec![ReasonCode::HumanRequested, ReasonCode::MemoryUnavailable]
    );
    assert!(svc.context("c", T0).is_err());
    up.store(true, Ordering::SeqCst);
    let d = svc.handle(
        turn("the thing", "change_order", 0.4),
        meta("c", "the thing"),
        T0 + 2000,
    );
    assert_eq!(d.codes(), vec![ReasonCode::LowConfidence]);
    assert_eq!(
        svc.context("c", T0 + 2000).unwrap().unwrap().turns.len(),
        2,
        "the turn decided while down was not kept"
    );
}

fn feedback(at: u64, sid: &str, accepted: bool) -> triage_core::policy::Feedback {
    triage_core::policy::Feedback {
        at_ms: at,
        turn_at_ms: Some(T0),
        suggestion_id: Some(sid.into()),
        accepted: Some(accepted),
        corrected_intent: None,
        intent_set: None,
    }
}

#[test]
fn feedback_is_kept_with_its_conversation_and_expires_with_it() {
    let mem = MemoryConfig {
        ttl_secs: 10,
        ..MemoryConfig::default()
    };
    let svc = service(shipped(), Box::new(MemoryStore::new(&mem)), mem);
    let store = svc.store();
    assert!(
        !store
            .add_feedback("c", &feedback(T0, "a", true), T0)
            .unwrap(),
        "no conversation yet: nothing kept"
    );
    assert!(store.feedback("c", T0).unwrap().is_empty());
    svc.handle(
        turn("where is my order", "track_order", 0.95),
        meta("c", "where is my order"),
        T0,
    );
    assert!(store
        .add_feedback("c", &feedback(T0 + 1, "a", true), T0 + 1)
        .unwrap());
    assert!(store
        .add_feedback("c", &feedback(T0 + 2, "b", false), T0 + 2)
        .unwrap());
    let ctx = svc.context("c", T0 + 3).unwrap().unwrap();
    let got: Vec<(Option<&str>, Option<bool>)> = ctx
        .feedback
        .iter()
        .map(|f| (f.suggestion_id.as_deref(), f.accepted))
        .collect();
    assert_eq!(got, vec![(Some("a"), Some(true)), (Some("b"), Some(false))]);
    // Feedback does not keep a conversation alive: it expires with the last turn.
    assert!(!store
        .add_feedback("c", &feedback(T0 + 10_001, "a", true), T0 + 10_001)
        .unwrap());
    assert!(store.feedback("c", T0 + 10_001).unwrap().is_empty());
    // A new conversation under the same id starts without the old feedback.
    svc.handle(
        turn("hello", "track_order", 0.95),
        meta("c", "hello"),
        T0 + 20_000,
    );
    assert!(svc
        .context("c", T0 + 20_000)
        .unwrap()
        .unwrap()
        .feedback
        .is_empty());
}

#[test]
fn the_bot_answer_is_kept_as_shown_only_when_the_bot_may_answer() {
    let mem = MemoryConfig::default();
    let svc = service(shipped(), Box::new(MemoryStore::new(&mem)), mem);
    let shown = |id: &str| triage_core::policy::ShownSuggestion {
        id: id.into(),
        title: Some(id.to_uppercase()),
        score: Some(0.8),
        bot: false,
    };
    let with_answer = |raw: &str| TurnMeta {
        suggestions: vec![shown("track-order-en"), shown("delivery-times-en")],
        bot_answer: Some(shown("track-order-en")),
        ..meta("c", raw)
    };
    let d = svc.handle(
        turn("where is my order", "track_order", 0.95),
        with_answer("where is my order"),
        T0,
    );
    assert_eq!(d.action, Action::Bot);
    let d = svc.handle(
        turn("agent please", "contact_human_agent", 0.97),
        with_answer("agent please"),
        T0 + 1000,
    );
    assert_eq!(d.action, Action::Handoff);
    let ctx = svc.context("c", T0 + 1000).unwrap().unwrap();
    let bots = |t: &StoredTurn| -> Vec<(String, bool)> {
        t.suggestions_shown
            .iter()
            .map(|s| (s.id.clone(), s.bot))
            .collect()
    };
    assert_eq!(
        bots(&ctx.turns[0]),
        vec![
            ("track-order-en".to_string(), true),
            ("delivery-times-en".to_string(), false)
        ]
    );
    assert_eq!(
        bots(&ctx.turns[1]),
        vec![
            ("track-order-en".to_string(), false),
            ("delivery-times-en".to_string(), false)
        ],
        "handed over: the bot did not send it"
    );
    assert_eq!(ctx.suggested.len(), 2);
    // Turns stored before suggestions existed (no `bot`, no `suggestions_shown`) read.
    let old = serde_json::json!({
        "at_ms": 1, "channel": "chat", "lang": "en", "negativity": 0.0,
        "handoff": serde_json::to_value(&ctx.turns[0].handoff).unwrap(),
    });
    let t: StoredTurn = serde_json::from_value(old).unwrap();
    assert!(t.suggestions_shown.is_empty());
    let s: triage_core::policy::ShownSuggestion =
        serde_json::from_value(serde_json::json!({"id": "x"})).unwrap();
    assert!(!s.bot);
}

/// A turn's JSON size, as the byte budget counts it.
fn json_len(t: &StoredTurn) -> usize {
    serde_json::to_vec(t).unwrap().len()
}

#[test]
fn turn_text_is_cut_and_a_conversation_kept_within_its_byte_budget() {
    let memory = MemoryConfig {
        max_turn_text_bytes: 100,
        max_conversation_bytes: 3_000,
        ..MemoryConfig::default()
    };
    let svc = service(
        shipped(),
        Box::new(MemoryStore::new(&memory)),
        memory.clone(),
    );
    // A long text is kept cut at a character boundary, ending with "…".
    let long = "退款".repeat(100);
    svc.handle(turn(&long, "get_refund", 0.9), meta("c", &long), T0);
    let ctx = svc.context("c", T0).unwrap().unwrap();
    let kept = ctx.turns[0].text.clone().unwrap();
    assert!(kept.len() <= 100, "{} bytes", kept.len());
    assert!(kept.ends_with('…'), "{kept}");
    assert!(long.starts_with(kept.trim_end_matches('…')), "{kept}");
    assert!(kept.len() > 90, "cut far shorter than the limit: {kept}");

    // Many turns: the oldest go so that the rest fit the budget; the newest stay.
    for i in 1..40u64 {
        let text = format!("turn {i} {}", "x".repeat(80));
        svc.handle(turn(&text, "track_order", 0.9), meta("c", &text), T0 + i);
    }
    let turns = svc.context("c", T0 + 40).unwrap().unwrap().turns;
    let bytes: usize = turns.iter().map(json_len).sum();
    assert!(bytes <= 3_000, "{bytes} bytes kept");
    assert!(
        turns.len() >= 2 && turns.len() < 39,
        "{} turns",
        turns.len()
    );
    // Contiguous, newest last.
    let first = 40 - turns.len() as u64;
    for (t, i) in turns.iter().zip(first..40) {
        assert!(
            t.text
                .as_deref()
                .unwrap()
                .starts_with(&format!("turn {i} ")),
            "{:?}",
            t.text
        );
    }
    // And the budget is what stopped it: one more turn would not have fitted.
    let one_more = json_len(&turns[0]);
    assert!(bytes + one_more > 3_000);
}

/// Two tenants through one service: the same conversation id is two conversations, and
/// each tenant's surge counts its own customers only (issue 16).
fn tenants_are_kept_apart(svc: &HandoffService) {
    use triage_core::policy::{Customer, Feedback};
    use triage_core::tenant::Tenant;
    let acme = Tenant::new("acme").unwrap();
    let globex = Tenant::new("globex").unwrap();
    let as_of = |tenant: &Tenant, id: &str, raw: &str| TurnMeta {
        tenant: tenant.clone(),
        ..meta(id, raw)
    };
    let track = |customer: Option<&str>| {
        let mut t = turn("where is my order", "track_order", 0.95);
        t.customer = customer.map(|id| Customer {
            id: Some(id.into()),
            tier: None,
        });
        t
    };
    svc.handle(track(None), as_of(&acme, "c", "acme's words"), T0);
    svc.handle(track(None), as_of(&globex, "c", "globex's words"), T0 + 1);
    svc.handle(track(None), meta("c", "default's words"), T0 + 2);
    for (tenant, words) in [
        (&acme, "acme's words"),
        (&globex, "globex's words"),
        (&Tenant::default(), "default's words"),
    ] {
        let ctx = svc.context_of(tenant, "c", T0 + 3).unwrap().unwrap();
        assert_eq!(ctx.turns.len(), 1, "{tenant}");
        assert_eq!(ctx.turns[0].text.as_deref(), Some(words), "{tenant}");
    }
    // The default tenant is what `context` reads, with the keys of earlier versions.
    assert_eq!(
        svc.context("c", T0 + 3).unwrap().unwrap().turns[0]
            .text
            .as_deref(),
        Some("default's words")
    );
    // An id that tries to spell another tenant's key names nothing.
    assert!(svc.context("acme\u{1f}c", T0 + 3).unwrap().is_none());
    assert!(svc.turns(&acme, "nobody", T0 + 3).unwrap().is_empty());
    let fb = Feedback {
        at_ms: T0 + 4,
        turn_at_ms: None,
        suggestion_id: None,
        accepted: None,
        corrected_intent: Some("track_order".into()),
        intent_set: Some("support".into()),
    };
    assert!(!svc.add_feedback(&acme, "only-globex", &fb, T0 + 4).unwrap());
    svc.handle(track(None), as_of(&globex, "only-globex", "x"), T0 + 5);
    assert!(!svc.add_feedback(&acme, "only-globex", &fb, T0 + 6).unwrap());
    assert!(svc
        .add_feedback(&globex, "only-globex", &fb, T0 + 6)
        .unwrap());

    // Surge (min_conversations = 4 in the caller's policy). Every turn above was a
    // track_order message, so acme has counted conversation "c" and globex "c" and
    // "only-globex". One acme customer in many conversations counts once (2) ...
    let surge = |tenant: &Tenant, id: &str, customer: Option<&str>, at: u64| {
        svc.handle(track(customer), as_of(tenant, id, "x"), at)
            .has(ReasonCode::Surge)
    };
    for i in 0..5 {
        assert!(!surge(&acme, &format!("s-{i}"), Some("one"), T0 + 10 + i));
    }
    // ... distinct acme conversations without a customer raise acme's surge (3, 4) ...
    assert!(!surge(&acme, "s-a", None, T0 + 20));
    assert!(surge(&acme, "s-b", None, T0 + 21));
    // ... and none of it reaches globex, whose third customer is still below the bar.
    assert!(!surge(&globex, "g-1", Some("g-1"), T0 + 22));
}

#[test]
fn tenants_keep_their_conversations_and_surges_apart_in_memory() {
    let mut cfg = shipped();
    cfg.surge.min_conversations = 4;
    cfg.surge.window_secs = 60;
    let mem = MemoryConfig::default();
    let svc = service(cfg, Box::new(MemoryStore::new(&mem)), mem);
    tenants_are_kept_apart(&svc);
}

/// A store that widens the window between a turn's read and its append, and notes any
/// append that lands on a history other than the one its turn read (a turn decided on
/// a stale history).
struct Interleave {
    inner: MemoryStore,
    stale: Arc<std::sync::atomic::AtomicUsize>,
}

thread_local! {
    static SEEN: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

impl ConversationStore for Interleave {
    fn turns(&self, id: &str, now_ms: u64) -> Result<Vec<StoredTurn>, StoreError> {
        let t = self.inner.turns(id, now_ms)?;
        SEEN.with(|s| s.set(t.len()));
        std::thread::sleep(std::time::Duration::from_millis(2));
        Ok(t)
    }
    fn append(&self, id: &str, turn: &StoredTurn, now_ms: u64) -> Result<(), StoreError> {
        let now = self.inner.turns(id, now_ms)?.len();
        if SEEN.with(|s| s.get()) != now {
            self.stale.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.append(id, turn, now_ms)
    }
    fn count_recent(&self, k: &str, m: &str, now: u64, w: u64) -> Result<usize, StoreError> {
        self.inner.count_recent(k, m, now, w)
    }
    fn kind(&self) -> &'static str {
        "interleave"
    }
    fn blocking(&self) -> bool {
        false
    }
}

#[test]
fn concurrent_turns_of_one_conversation_are_decided_one_at_a_time_in_process() {
    let mem = MemoryConfig {
        max_turns: 1000,
        ..MemoryConfig::default()
    };
    let stale = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let store = Interleave {
        inner: MemoryStore::new(&mem),
        stale: stale.clone(),
    };
    let svc = Arc::new(service(shipped(), Box::new(store), mem));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let svc = svc.clone();
            std::thread::spawn(move || {
                for k in 0..10 {
                    let text = format!("thread {i} turn {k}");
                    svc.handle(turn(&text, "track_order", 0.95), meta("same", &text), T0);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let ctx = svc.context("same", T0).unwrap().unwrap();
    assert_eq!(ctx.turns.len(), 60, "no turn lost");
    // Each thread's own turns are stored in the order it sent them.
    for i in 0..6 {
        let mine: Vec<_> = ctx
            .turns
            .iter()
            .filter_map(|t| t.text.as_deref())
            .filter(|t| t.starts_with(&format!("thread {i} ")))
            .collect();
        let want: Vec<_> = (0..10).map(|k| format!("thread {i} turn {k}")).collect();
        assert_eq!(mine, want);
    }
    // And no turn was stored on a history other than the one it was decided on.
    assert_eq!(stale.load(Ordering::Relaxed), 0);
}
