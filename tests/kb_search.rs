//! Knowledge-base search with the shipped bundle and the shipped support base: bot and
//! agent modes, empathy first for upset customers, Chinese articles for Chinese
//! messages, staleness, channel filters, JSONL bases, the HNSW path.
//!
//! Run: `cargo test --release --test kb_search`

mod kb_util;

use kb_util::{classifier, prepare, repo_path, temp_dir, Prepared};
use std::sync::{Arc, OnceLock};
use triage_core::kb::article::parse_date;
use triage_core::kb::{ArticleType, KbOptions, KnowledgeBase, Mode, Query, SearchError};
use triage_core::text::Channel;

fn options() -> KbOptions {
    KbOptions {
        today: parse_date("2026-11-23"),
        ..KbOptions::default()
    }
}

fn support() -> Arc<KnowledgeBase> {
    static KB: OnceLock<Arc<KnowledgeBase>> = OnceLock::new();
    KB.get_or_init(|| {
        let cache = temp_dir("kb-search-cache");
        let (kb, issues) = KnowledgeBase::load(
            &repo_path("config/kb/support"),
            classifier().as_ref(),
            &cache,
            &options(),
        )
        .expect("support base loads");
        assert!(issues.is_empty(), "{issues:?}");
        Arc::new(kb)
    })
    .clone()
}

fn query<'a>(p: &'a Prepared, mode: Mode, k: usize) -> Query<'a> {
    Query {
        text: &p.text,
        embedding: Some(p.embedding.view()),
        predicted_intent: Some((p.intent.0.as_str(), p.intent.1)),
        channel: Some(Channel::Chat),
        lang: Some("en"),
        negative_emotion: p.negative,
        emotions: &p.emotions,
        mode,
        k,
    }
}

fn ids(s: &[triage_core::kb::Suggestion]) -> Vec<&str> {
    s.iter().map(|x| x.id.as_str()).collect()
}

#[test]
fn bot_mode_answers_confident_in_scope_questions_only() {
    let kb = support();
    let p = prepare(
        "can you track my order for me, where is it now?",
        Channel::Chat,
    );
    let s = kb.search(&query(&p, Mode::Bot, 3)).unwrap();
    assert_eq!(ids(&s), vec!["track-order-en"], "intent {:?}", p.intent);
    assert!(s[0].score >= kb.options().bot_min_score);
    assert!(!s[0].stale && !s[0].snippet.is_empty());

    let p = prepare(
        "I want to send these shoes back and get my money back",
        Channel::Chat,
    );
    let s = kb.search(&query(&p, Mode::Bot, 3)).unwrap();
    assert_eq!(ids(&s), vec!["request-refund-en"], "intent {:?}", p.intent);
    let follow = s[0]
        .follow_up
        .as_ref()
        .expect("refund article has a follow-up");
    assert_eq!(follow.action, "create_return_ticket");

    // Off-topic: no answer, whatever the intent head says; the policy decides.
    for text in [
        "what's the weather going to be like in Lisbon tomorrow",
        "can you recommend a good recipe for banana bread",
    ] {
        let p = prepare(text, Channel::Chat);
        let s = kb.search(&query(&p, Mode::Bot, 3)).unwrap();
        assert!(
            s.is_empty(),
            "{text:?} got {:?} (intent {:?})",
            ids(&s),
            p.intent
        );
    }

    // A confident intent is required.
    let mut q = query(&p, Mode::Bot, 3);
    q.predicted_intent = Some(("track_order", 0.5));
    assert!(kb.search(&q).unwrap().is_empty());
    q.predicted_intent = None;
    assert!(kb.search(&q).unwrap().is_empty());
}

#[test]
fn agent_mode_puts_an_empathy_script_first_when_the_customer_is_upset() {
    let kb = support();
    let p = prepare(
        "This is ridiculous, third time I ask and my refund STILL hasn't arrived. Useless company!",
        Channel::Chat,
    );
    assert!(p.negative, "emotion head: {:?}", p.emotions);
    let s = kb.search(&query(&p, Mode::Agent, 3)).unwrap();
    assert_eq!(s.len(), 4, "{:?}", ids(&s));
    assert_eq!(s[0].kind, ArticleType::Empathy);
    assert_eq!(s[0].language, "en");
    // The script answers one of the negative emotions the head read (which one leads
    // depends on the bundle's scores).
    let fitting: Vec<&str> = p
        .emotions
        .iter()
        .filter_map(|e| match e.as_str() {
            "anger" | "annoyance" => Some("empathy-angry-en"),
            "disappointment" | "sadness" => Some("empathy-disappointed-en"),
            "fear" | "nervousness" => Some("empathy-anxious-en"),
            _ => None,
        })
        .collect();
    if !fitting.is_empty() {
        assert!(
            fitting.contains(&s[0].id.as_str()),
            "{} for emotions {:?}",
            s[0].id,
            p.emotions
        );
    }
    assert!(s[1..].iter().all(|x| x.kind != ArticleType::Empathy));
    // A refund article next. triage-en-small 0.3.0 reads this angry message as
    // get_refund rather than track_refund, so refund-policy may lead (was refund-status).
    assert!(
        ["refund-status-en", "refund-policy-en", "request-refund-en"].contains(&s[1].id.as_str()),
        "{:?}",
        ids(&s)
    );
    assert!(s[1].score >= s[2].score && s[2].score >= s[3].score);

    let mut calm = query(&p, Mode::Agent, 3);
    calm.negative_emotion = false;
    let s = kb.search(&calm).unwrap();
    assert_eq!(s.len(), 3);
    assert!(s.iter().all(|x| x.kind != ArticleType::Empathy));

    // A worried customer gets the script written for worry when the head says so.
    let p = prepare(
        "I'm really worried, I paid but got no confirmation and I'm scared I was scammed",
        Channel::Chat,
    );
    let s = kb
        .search(&Query {
            negative_emotion: true,
            ..query(&p, Mode::Agent, 2)
        })
        .unwrap();
    assert_eq!(s[0].kind, ArticleType::Empathy);
    if p.emotions
        .first()
        .is_some_and(|e| e == "nervousness" || e == "fear")
    {
        assert_eq!(s[0].id, "empathy-anxious-en", "emotions {:?}", p.emotions);
    }
}

#[test]
fn agent_scripts_and_chinese_articles() {
    let kb = support();
    // The English bundle has no Chinese intents, so no prediction is passed: BM25 on
    // character bigrams finds the Chinese article.
    for (text, want) in [
        ("我的退款怎么还没到账", "refund-status-zh"),
        ("我忘记密码了，登录不了", "reset-password-zh"),
        ("我要投诉你们的服务", "file-complaint-zh"),
    ] {
        let p = prepare(text, Channel::Chat);
        let q = Query {
            predicted_intent: None,
            lang: Some("zh"),
            negative_emotion: true,
            emotions: &[],
            ..query(&p, Mode::Agent, 3)
        };
        let s = kb.search(&q).unwrap();
        assert_eq!(s[0].kind, ArticleType::Empathy, "{text}: {:?}", ids(&s));
        assert_eq!(s[1].id, want, "{text}: {:?}", ids(&s));
        assert!(s.iter().all(|x| x.language == "zh"));
    }
    // Agent scripts come up for agents: identity check before account changes.
    let p = prepare("please delete my account and all my data", Channel::Chat);
    let calm = Query {
        negative_emotion: false,
        ..query(&p, Mode::Agent, 3)
    };
    let s = kb.search(&calm).unwrap();
    assert_eq!(s[0].id, "delete-account-en", "{:?}", ids(&s));
    assert!(
        s.iter()
            .any(|x| x.id == "verify-identity-en" && x.kind == ArticleType::Script),
        "{:?}",
        ids(&s)
    );
    // ... but a bot never sends a script.
    let b = kb.search(&query(&p, Mode::Bot, 3)).unwrap();
    assert!(b.iter().all(|x| x.kind == ArticleType::Answer));
}

#[test]
fn stale_articles_are_flagged_ranked_lower_and_not_sent_by_bots() {
    let dir = temp_dir("kb-stale");
    let kb_dir = dir.join("kb");
    std::fs::create_dir_all(&kb_dir).unwrap();
    let article = |id: &str, updated: &str, body: &str| {
        format!(
            "---\nid: {id}\ntitle: Track your order\nintents: [track_order]\nlanguage: en\ntype: answer\nupdated: {updated}\nquestions: [\"where is my order\", \"where is my parcel\"]\n---\n\n{body}\n"
        )
    };
    // The old article matches the question better, word for word.
    std::fs::write(
        kb_dir.join("old.md"),
        article(
            "old",
            "2024-01-10",
            "Where is my parcel? Where is my order? Open My orders to track the parcel.",
        ),
    )
    .unwrap();
    std::fs::write(
        kb_dir.join("new.md"),
        article(
            "new",
            "2026-10-01",
            "Open the Deliveries page to follow a shipment.",
        ),
    )
    .unwrap();
    let (kb, issues) = KnowledgeBase::load(
        &kb_dir,
        classifier().as_ref(),
        &dir.join("cache"),
        &options(),
    )
    .unwrap();
    assert!(issues.is_empty());
    let p = prepare("where is my parcel", Channel::Chat);
    let s = kb.search(&query(&p, Mode::Agent, 2)).unwrap();
    assert_eq!(ids(&s), vec!["new", "old"]);
    assert!(s[1].stale && !s[0].stale);
    assert_eq!(s[1].updated, "2024-01-10");
    // Without the staleness penalty the old one would win: the ranking is the penalty's.
    let (fresh, _) = KnowledgeBase::load(
        &kb_dir,
        classifier().as_ref(),
        &dir.join("cache"),
        &KbOptions {
            max_age_days: 10_000,
            ..options()
        },
    )
    .unwrap();
    let s = fresh.search(&query(&p, Mode::Agent, 2)).unwrap();
    assert_eq!(ids(&s), vec!["old", "new"]);
    // The bot skips stale articles.
    std::fs::remove_file(kb_dir.join("new.md")).unwrap();
    let (only_old, _) = KnowledgeBase::load(
        &kb_dir,
        classifier().as_ref(),
        &dir.join("cache"),
        &options(),
    )
    .unwrap();
    assert!(only_old
        .search(&query(&p, Mode::Bot, 1))
        .unwrap()
        .is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jsonl_bases_channel_filters_and_issues() {
    let dir = temp_dir("kb-jsonl");
    let file = dir.join("kb.jsonl");
    std::fs::write(
        &file,
        [
            r#"{"id":"pin-voice","title":"Reset your PIN by phone","intents":["recover_password"],"channels":["voice"],"language":"en","type":"answer","updated":"2026-10-01","body":"Say reset PIN and follow the prompts."}"#,
            r#"{"id":"pin-chat","title":"Reset your PIN online","intents":["recover_password"],"channels":["chat","email","social"],"language":"en","type":"answer","updated":"2026-10-01","body":"Open Security and choose Reset PIN."}"#,
            "",
            r#"{"id":"broken","title":"No date","language":"en","type":"answer","body":"x"}"#,
            r#"{"id":"pin-chat","title":"Duplicate","language":"en","type":"answer","updated":"2026-10-01","body":"dup"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (kb, issues) =
        KnowledgeBase::load(&file, classifier().as_ref(), &dir.join("cache"), &options()).unwrap();
    assert_eq!(kb.len(), 2);
    let lines: Vec<Option<usize>> = issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![Some(4), Some(5)], "{issues:?}");
    assert!(issues[0].message.contains("updated"), "{}", issues[0]);
    assert!(issues[1].message.contains("duplicate"), "{}", issues[1]);
    assert_eq!(
        kb.article("pin-chat").unwrap().source,
        format!("{}:2", file.display())
    );

    let p = prepare("I forgot my PIN, how do I reset it", Channel::Chat);
    let mut q = query(&p, Mode::Agent, 5);
    q.channel = Some(Channel::Voice);
    assert_eq!(ids(&kb.search(&q).unwrap()), vec!["pin-voice"]);
    q.channel = Some(Channel::Chat);
    assert_eq!(ids(&kb.search(&q).unwrap()), vec!["pin-chat"]);
    q.channel = None;
    assert_eq!(kb.search(&q).unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hnsw_path_agrees_with_the_exact_scan() {
    let exact = support();
    let cache = temp_dir("kb-hnsw-cache");
    let (approx, _) = KnowledgeBase::load(
        &repo_path("config/kb/support"),
        classifier().as_ref(),
        &cache,
        &KbOptions {
            approx_above: 0,
            candidates: 20,
            ..options()
        },
    )
    .unwrap();
    assert!(approx.is_approximate() && !exact.is_approximate());
    for text in [
        "where is my parcel",
        "how do I change the address on my order",
        "which payment methods do you take",
        "I want to talk to a human",
        "my payment keeps failing",
    ] {
        let p = prepare(text, Channel::Chat);
        let a = approx.search(&query(&p, Mode::Agent, 3)).unwrap();
        let e = exact.search(&query(&p, Mode::Agent, 3)).unwrap();
        // Retrieval must agree; an empathy script placed first is chosen by emotion.
        let first = |v: &[triage_core::kb::Suggestion]| {
            v.iter()
                .find(|x| x.kind != ArticleType::Empathy)
                .map(|x| (x.id.clone(), x.score))
        };
        let (ai, ascore) = first(&a).unwrap();
        let (ei, escore) = first(&e).unwrap();
        assert_eq!(ai, ei, "{text}");
        assert!((ascore - escore).abs() < 1e-5, "{text}");
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn bad_query_embeddings_are_errors_not_panics() {
    let kb = support();
    let short = ndarray::Array1::<f32>::zeros(7);
    let q = Query {
        embedding: Some(short.view()),
        ..Query::new("where is my order")
    };
    assert_eq!(
        kb.search(&q).unwrap_err(),
        SearchError::Dimension {
            got: 7,
            want: kb.dim()
        }
    );
    let mut nan = ndarray::Array1::<f32>::zeros(kb.dim());
    nan[0] = f32::NAN;
    let q = Query {
        embedding: Some(nan.view()),
        ..Query::new("where is my order")
    };
    assert_eq!(kb.search(&q).unwrap_err(), SearchError::NotFinite);
    // No embedding, k = 0, empty text: no panic.
    assert!(kb.search(&Query::new("")).unwrap().len() <= 3);
    let q = Query {
        k: 0,
        ..Query::new("where is my order")
    };
    assert!(kb.search(&q).unwrap().is_empty());
}
