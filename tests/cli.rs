//! The `triage` binary: serve (ready, SIGTERM), classify (text and JSONL), failures.

mod common;

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn triage() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_triage"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_MODEL")
        .env_remove("TRIAGE_ADDR")
        .env("TRIAGE_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(addr: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(r) = common::agent().get(&format!("http://{addr}/ready")).call() {
            if r.status() == 200 {
                return started.elapsed();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not ready within {limit:?}");
}

#[test]
fn classify_names_a_human_contact_intent() {
    let out = triage()
        .args(["classify", "I want to speak to a real person"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let label = r["intent"]["label"].as_str().unwrap();
    assert!(
        ["contact_human_agent", "contact_customer_service"].contains(&label),
        "{r}"
    );
}

#[test]
fn classify_jsonl_keeps_lines_aligned_and_reports_bad_ones() {
    let dir = std::env::temp_dir().join(format!("triage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("in.jsonl");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "{}", json!({"text": "cancel my order please"})).unwrap();
    writeln!(f, "this is not json").unwrap();
    writeln!(f, "{}", json!({"text": "my card never arrived", "intent_set": "banking", "intent": "card_arrival", "emotions": []})).unwrap();
    writeln!(f, "{}", json!({"text": ""})).unwrap();
    drop(f);
    let out = triage()
        .args(["classify", "--input"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["intent"]["label"], "cancel_order");
    assert_eq!(lines[1]["error"]["code"], "invalid_json");
    assert_eq!(lines[2]["intent"]["label"], "card_arrival");
    assert_eq!(lines[3]["error"]["code"], "empty_text");
}

#[test]
fn serve_is_ready_quickly_and_sigterm_loses_no_request() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = triage()
        .args(["serve", "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let took = wait_ready(&addr, Duration::from_secs(30));
    eprintln!("ready after {took:?}");
    // Batches long enough that they are still running when SIGTERM arrives.
    let texts = common::banking_texts(64);
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let url = format!("http://{addr}/v1/classify");
            let body = json!({"inputs": texts}).to_string();
            std::thread::spawn(move || common::post_raw(&url, body.as_bytes()))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for c in clients {
        let (status, body, _) = c.join().unwrap();
        assert_eq!(status, 200, "in-flight request lost on SIGTERM: {body}");
        assert_eq!(body["results"].as_array().unwrap().len(), 64);
    }
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_with_a_corrupt_model_fails_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("triage-corrupt-serve-{}", std::process::id()));
    common::copy_bundle(&common::repo_path("models/triage-en-small"), &dir);
    std::fs::write(dir.join("model.safetensors"), b"garbage").unwrap();
    let out = triage()
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
            "--model",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("model.safetensors"), "{err}");
}
