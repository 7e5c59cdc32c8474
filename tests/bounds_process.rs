//! The real binary: after SIGTERM it is gone within the grace period (3 s) and a moment,
//! even with a stalled connection open and a queue full of work; and at
//! `TRIAGE_LOG=trace` no message text reaches its log (third-party crates are capped).

mod common;

use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-bounds-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `triage serve` on a free port with `config` (TOML) and `log` as `TRIAGE_LOG`,
/// stderr to `dir/stderr.log`; returns the child and its address once `/ready` is 200.
fn serve(dir: &std::path::Path, config: &str, log: &str) -> (Child, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let file = dir.join("triage.toml");
    std::fs::write(&file, config).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_MODEL")
        .env_remove("TRIAGE_ADDR")
        .env("TRIAGE_LOG", log)
        .arg("--config")
        .arg(&file)
        .args(["serve", "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(r) = common::agent().get(&format!("http://{addr}/ready")).call() {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not ready: {}",
            std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, addr)
}

fn sigterm(child: &Child) {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

/// Waits for the child to exit (at most `limit`); returns how long it took.
fn wait_exit(child: &mut Child, limit: Duration) -> Option<(Duration, std::process::ExitStatus)> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((started.elapsed(), status));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn sigterm_with_a_stalled_connection_and_a_full_queue_exits_within_the_grace_period() {
    let dir = temp_dir("sigterm");
    // The slow reference encoder on one thread: the queued work below is minutes of it.
    let config = r#"
model = "models/triage-en-small"
encoder = "candle"
threads = 1
[suggest]
enabled = false
[limits]
shutdown_grace_secs = 3
header_timeout_ms = 60000
[engine]
queue_capacity = 100000
queue_tokens = 10000000
"#;
    let (mut child, addr) = serve(&dir, config, "warn");
    // A connection that sent half a request line and stalls.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.write_all(b"POST /v1/classify HTT").unwrap();
    // Work queued: 8 batches of 128 long texts.
    let text = "my parcel never arrived and nobody answers my emails, ".repeat(20);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let url = format!("http://{addr}/v1/classify");
            let body = json!({"inputs": vec![text.clone(); 128]}).to_string();
            std::thread::spawn(move || {
                // Refused or cut off at shutdown: any outcome but hanging.
                let _ = common::agent()
                    .post(&url)
                    .set("content-type", "application/json")
                    .send_string(&body);
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, m) = common::get(&format!("http://{addr}/metrics"));
        let depth = m
            .lines()
            .find(|l| l.starts_with("triage_queue_depth "))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        if depth >= 512.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the work never queued ({depth})");
        std::thread::sleep(Duration::from_millis(20));
    }
    sigterm(&child);
    let exited = wait_exit(&mut child, Duration::from_secs(30));
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    let (took, status) = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("still running 30 s after SIGTERM: {log}")
    });
    eprintln!("exited {took:?} after SIGTERM");
    assert!(
        took < Duration::from_secs(5),
        "exit {took:?} after SIGTERM with a 3 s grace: {log}"
    );
    assert!(status.success(), "exit status {status}: {log}");
    drop(stalled);
    for c in clients {
        c.join().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn at_trace_level_no_message_text_reaches_the_log() {
    let dir = temp_dir("trace");
    let config = r#"
model = "models/triage-en-small"
[suggest]
enabled = false
"#;
    let (mut child, addr) = serve(&dir, config, "trace");
    let secret = "zebraquokka marmalade";
    let (status, r) = common::post(
        &format!("http://{addr}/v1/classify"),
        &json!({"text": format!("my order {secret} never arrived"), "conversation_id": "log-1"}),
    );
    assert_eq!(status, 200, "{r}");
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(60)).expect("exits");
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    // The log is at trace for our crates: the request was logged, without its text.
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "not logging at trace: {log}"
    );
    assert!(log.contains("/v1/classify"), "{log}");
    // Whole, or character by character as the tokenizer library logs it at trace
    // ("### 'z' with size 1: Replacing ..."): the characters quoted in the log, joined.
    let quoted: String = log
        .split("### '")
        .skip(1)
        .filter_map(|rest| rest.chars().next())
        .collect();
    for word in ["zebraquokka", "marmalade"] {
        assert!(!log.contains(word), "message text in the log: {word}");
        assert!(
            !quoted.contains(word),
            "message text in the log, by character"
        );
    }
    assert!(!log.contains("tokenizers::"), "tokenizer log lines present");
    let _ = std::fs::remove_dir_all(&dir);
}
