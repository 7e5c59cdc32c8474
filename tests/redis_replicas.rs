//! Two `triage serve` processes sharing one Redis see the same conversations: a turn
//! taken by one replica is in the other's history (its rules use it) and in its context
//! package.

mod common;
mod redis_util;

use common::{get, post};
use redis_util::{free_port, RedisServer};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Replica {
    child: Child,
    addr: String,
}

impl Replica {
    fn start(redis_url: &str) -> Self {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_triage"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "serve",
                "--addr",
                &addr,
                "--redis-url",
                redis_url,
                "--threads",
                "1",
            ])
            .env("TRIAGE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("triage serve starts");
        Self { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(r) = ureq::get(&self.url("/ready"))
                .timeout(Duration::from_secs(2))
                .call()
            {
                if r.status() == 200 {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("triage serve exited early: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "replica not ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn classify(&self, text: &str) -> Value {
        let (status, r) = post(
            &self.url("/v1/classify"),
            &json!({"text": text, "conversation_id": "shared-1", "customer": {"id": "u-7", "tier": "standard"}}),
        );
        assert_eq!(status, 200, "{r}");
        r
    }

    fn context(&self) -> Value {
        let (status, body) = get(&self.url("/v1/conversations/shared-1"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn codes(r: &Value) -> Vec<&str> {
    r["handoff"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect()
}

#[test]
fn two_replicas_share_conversation_history() {
    let redis = RedisServer::start();
    let mut a = Replica::start(&redis.url());
    let mut b = Replica::start(&redis.url());
    a.wait_ready();
    b.wait_ready();

    // The same unclear message three times, across replicas: the third turn, on B,
    // counts the two failures A saw.
    let first = a.classify("can you help me with something");
    assert_eq!(first["handoff"]["action"], "clarify", "{first}");
    assert!(!codes(&first).contains(&"repeated_failure"));
    a.classify("can you help me with something");
    let third = b.classify("can you help me with something");
    assert!(
        codes(&third).contains(&"repeated_failure"),
        "B saw A's turns: {}",
        third["handoff"]
    );
    assert_eq!(third["handoff"]["action"], "handoff");

    let (ca, cb) = (a.context(), b.context());
    assert_eq!(ca, cb, "both replicas return the same package");
    assert_eq!(ca["turns"].as_array().unwrap().len(), 3);
    assert_eq!(ca["customer"]["id"], "u-7");
    assert_eq!(ca["handoff"]["action"], "handoff");
}
