//! Issue 6: editing an article's file changes the next answer without a restart, and a
//! malformed article is reported (file and line) while the rest keeps serving. Runs the
//! shipped bundle on a copy of the shipped support base.
//!
//! Run: `cargo test --release --test kb_reload`

mod kb_util;

use kb_util::{copy_tree, prepare, repo_path, temp_dir, Counting};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use triage_core::kb::article::parse_date;
use triage_core::kb::{KbOptions, KnowledgeBase, LiveKb, Mode, Query, ReloadOutcome};
use triage_core::text::Channel;

fn options() -> KbOptions {
    KbOptions {
        today: parse_date("2026-11-23"),
        watch_interval_ms: 100,
        ..KbOptions::default()
    }
}

fn top(kb: &LiveKb, p: &kb_util::Prepared) -> triage_core::kb::Suggestion {
    let q = Query {
        embedding: Some(p.embedding.view()),
        predicted_intent: Some((p.intent.0.as_str(), p.intent.1)),
        lang: Some("en"),
        mode: Mode::Agent,
        k: 3,
        ..Query::new(&p.text)
    };
    kb.current()
        .expect("serving")
        .kb
        .search(&q)
        .unwrap()
        .remove(0)
}

/// Waits (at most 60 s) for the watch to swap in a new version.
fn wait_for_generation(kb: &LiveKb, after: u64) {
    let started = Instant::now();
    while kb.generation() <= after {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no reload within 60 s (last error: {:?})",
            kb.last_error()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn edits_are_served_without_restart_and_bad_articles_are_reported() {
    let dir = temp_dir("kb-reload");
    let kb_dir = dir.join("support");
    copy_tree(&repo_path("config/kb/support"), &kb_dir);
    let cache = dir.join("cache");
    let embedder = Counting::new();
    let mut kb = LiveKb::load_now(&kb_dir, &cache, options(), embedder.clone(), Vec::new());
    assert!(kb.last_error().is_none(), "{:?}", kb.last_error());
    let issues = kb.issues();
    assert!(issues.is_empty(), "{issues:?}");
    let n_articles = kb.current().unwrap().kb.len();
    assert!(embedder.take() > 0);
    assert!(kb.is_watching());

    let track = prepare(
        "can you track my order for me, where is it now?",
        Channel::Chat,
    );
    let before = top(&kb, &track);
    assert_eq!(before.id, "track-order-en");
    assert!(!before.answer.contains("Deliveries tab"));

    // 1. Edit the article's text: the next search answers with the new text.
    let path = kb_dir.join("en/track-order-en.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (front, _) = text.rsplit_once("---").unwrap();
    std::fs::write(
        &path,
        format!("{front}---\n\nOrders are now tracked in the Deliveries tab of the app.\n"),
    )
    .unwrap();
    let generation = kb.generation();
    wait_for_generation(&kb, generation);
    let after = top(&kb, &track);
    assert_eq!(after.id, "track-order-en");
    assert!(after.answer.contains("Deliveries tab"), "{}", after.answer);
    // Only the edited text was embedded again (the body's opening); title and questions
    // came from the previous version.
    assert_eq!(embedder.take(), 1);
    assert_eq!(kb.current().unwrap().kb.len(), n_articles);

    // 2. Break another article: it is reported with file and line and left out, the
    //    rest keeps serving.
    let broken = kb_dir.join("en/cancel-order-en.md");
    let text = std::fs::read_to_string(&broken).unwrap();
    std::fs::write(&broken, text.replace("type: answer", "type: answr")).unwrap();
    let generation = kb.generation();
    wait_for_generation(&kb, generation);
    let issues = kb.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].file, broken);
    assert_eq!(issues[0].line, Some(6), "{}", issues[0]);
    assert!(issues[0].message.contains("answr"), "{}", issues[0]);
    assert_eq!(kb.current().unwrap().kb.len(), n_articles - 1);
    assert!(kb
        .current()
        .unwrap()
        .kb
        .article("cancel-order-en")
        .is_none());
    assert_eq!(top(&kb, &track).id, "track-order-en");
    kb.stop_watching();

    // 3. A reload that fails as a whole keeps the previous version serving.
    std::fs::write(
        &broken,
        text.replace("Cancel an order", "Cancel your order"),
    )
    .unwrap();
    embedder.fail.store(true, Ordering::SeqCst);
    assert!(kb.reload_if_changed("test").is_err());
    assert!(kb.last_error().unwrap().contains("encoder unavailable"));
    assert!(kb
        .current()
        .unwrap()
        .kb
        .article("cancel-order-en")
        .is_none());
    assert_eq!(top(&kb, &track).id, "track-order-en");
    embedder.fail.store(false, Ordering::SeqCst);
    match kb.reload("test").unwrap() {
        ReloadOutcome::Reloaded { issues } => assert!(issues.is_empty(), "{issues:?}"),
        other => panic!("expected a reload, got {other:?}"),
    }
    assert!(kb.last_error().is_none());
    assert_eq!(
        kb.current()
            .unwrap()
            .kb
            .article("cancel-order-en")
            .unwrap()
            .title,
        "Cancel your order"
    );
    assert!(matches!(
        kb.reload_if_changed("test").unwrap(),
        ReloadOutcome::Unchanged
    ));

    // 4. A restart reads every embedding from the disk cache.
    embedder.take();
    let (fresh, issues) =
        KnowledgeBase::load(&kb_dir, embedder.as_ref(), &cache, &options()).unwrap();
    assert!(issues.is_empty());
    assert_eq!(embedder.take(), 0, "restart re-embedded texts");
    assert_eq!(fresh.len(), n_articles);
    let reloaded = Arc::new(fresh);
    let _ = reloaded.content_hash();
    let _ = std::fs::remove_dir_all(&dir);
}
