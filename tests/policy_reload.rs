//! The policy changes without a restart: when its file changes (watched) or on
//! `POST /admin/policy/reload`; an invalid file is rejected as a whole and the previous
//! policy keeps serving. Also: the shipped policy only names labels the shipped bundle
//! has, and a server does not start on an invalid policy file.

mod common;

use common::{get, post, TestServer};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use triage_core::policy::{Policy, PolicyHandle};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn shipped_text() -> String {
    std::fs::read_to_string(common::repo_path("config/policy.toml")).unwrap()
}

fn with_threshold(t: &str) -> String {
    let s = shipped_text();
    assert!(s.contains("threshold = 0.7"));
    s.replacen("threshold = 0.7", &format!("threshold = {t}"), 1)
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Replaces the file in one step (write beside it, then rename), as a deployment tool
/// does. `fs::write` truncates first: on a loaded machine the watcher can see the empty
/// file hold still for a poll and report "the file is empty" before the new text lands
/// (which the running policy survives, but this test checks the error it expects).
fn replace(file: &std::path::Path, text: impl AsRef<[u8]>) {
    let tmp = file.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[test]
fn a_changed_file_is_picked_up_and_an_invalid_one_rejected() {
    let dir = temp_dir("policy-watch");
    let file = dir.join("policy.toml");
    replace(&file, with_threshold("0.7"));
    let handle = Arc::new(PolicyHandle::load(&file).unwrap());
    handle.watch(Duration::from_millis(25));
    let threshold = || handle.get().config().low_confidence.threshold;
    assert_eq!(threshold(), 0.7);

    replace(&file, with_threshold("0.55"));
    wait_for("the new threshold", || threshold() == 0.55);
    assert_eq!(handle.status().generation, 2);

    // Out of range: rejected as a whole, the running policy stays.
    replace(&file, with_threshold("1.75"));
    wait_for("the error", || handle.status().last_error.is_some());
    let err = handle.status().last_error.unwrap();
    assert!(
        err.contains("low_confidence.threshold") && err.contains("policy.toml"),
        "{err}"
    );
    assert_eq!(threshold(), 0.55);
    // Not TOML at all: same.
    replace(&file, "this is [not toml");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(threshold(), 0.55);

    replace(&file, with_threshold("0.6"));
    wait_for("the fixed file", || threshold() == 0.6);
    assert!(handle.status().last_error.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn admin_reload_over_http() {
    let dir = temp_dir("policy-admin");
    let file = dir.join("policy.toml");
    std::fs::write(&file, shipped_text()).unwrap();
    // No watcher: only the admin call reloads.
    let s = TestServer::start(|c| {
        c.policy = file.clone();
        c.policy_reload_ms = 0;
    });
    let ask = || {
        let (status, r) = post(
            &s.url("/v1/classify"),
            &json!({"text": "pineapple pizza now"}),
        );
        assert_eq!(status, 200, "{r}");
        r["handoff"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "human_requested")
    };
    assert!(!ask());

    let edited = shipped_text().replacen(
        "\"real person\",",
        "\"real person\", \"pineapple pizza\",",
        1,
    );
    assert_ne!(edited, shipped_text());
    std::fs::write(&file, &edited).unwrap();
    assert!(!ask(), "nothing changes before the reload");
    let (status, r) = post(&s.url("/admin/policy/reload"), &json!({}));
    assert_eq!(
        (status, r["result"].as_str()),
        (200, Some("reloaded")),
        "{r}"
    );
    assert_eq!(r["status"]["generation"], 2);
    assert!(ask(), "the new phrase is in force");
    let (status, r) = post(&s.url("/admin/policy/reload"), &json!({}));
    assert_eq!(
        (status, r["result"].as_str()),
        (200, Some("unchanged")),
        "{r}"
    );

    std::fs::write(
        &file,
        edited.replacen("mode = \"enforce\"", "mode = \"loud\"", 1),
    )
    .unwrap();
    let (status, r) = post(&s.url("/admin/policy/reload"), &json!({}));
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["error"]["code"], "invalid_policy");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy.toml"),
        "{r}"
    );
    assert!(ask(), "the previous policy keeps serving");

    let (status, body) = get(&s.url("/admin/policy"));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"]["generation"], 2);
    assert!(
        v["status"]["last_error"].as_str().unwrap().contains("loud"),
        "{v}"
    );
    assert_eq!(v["store"], "memory");
    assert_eq!(v["policy"]["mode"], "enforce");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_does_not_start_on_an_invalid_policy() {
    let dir = temp_dir("policy-bad-start");
    let file = dir.join("policy.toml");
    std::fs::write(&file, "[low_confidence]\nthreshold = \"high\"\n").unwrap();
    let state = triage_server::AppState::new(triage_core::config::Config {
        models: vec![common::default_model()],
        policy: file.clone(),
        ..Default::default()
    });
    let err = triage_server::load_model(&state).unwrap_err().to_string();
    assert!(
        err.contains("policy.toml") && err.contains("threshold"),
        "{err}"
    );
    assert!(!state.is_ready());
    // A named file that does not exist is an error too.
    let state = triage_server::AppState::new(triage_core::config::Config {
        models: vec![common::default_model()],
        policy: dir.join("missing.toml"),
        ..Default::default()
    });
    let err = triage_server::load_model(&state).unwrap_err().to_string();
    assert!(err.contains("missing.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_policy_names_only_labels_of_the_shipped_bundle() {
    let policy = Policy::from_file(&common::repo_path("config/policy.toml")).unwrap();
    let text =
        std::fs::read_to_string(common::repo_path("models/triage-en-small/bundle.toml")).unwrap();
    let manifest: triage_core::model::Manifest = toml::from_str(&text).unwrap();
    assert_eq!(policy.unknown_labels(&manifest), Vec::<String>::new());
    // And the check can fail.
    let mut cfg = policy.config().clone();
    cfg.human_request.intents.push("talk_to_human".into());
    cfg.negative_emotion.emotions.insert("rage".into(), 0.5);
    let bad = Policy::new(cfg).unwrap();
    assert_eq!(
        bad.unknown_labels(&manifest),
        vec!["intent talk_to_human", "emotion rage"]
    );
}
