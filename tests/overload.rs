//! Overload: with a small queue and many concurrent clients every request gets either a
//! result or a 429 with `Retry-After` — none lost, none hanging.

mod common;

use common::{post_raw, TestServer};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[test]
fn every_request_gets_a_result_or_a_429() {
    let server = TestServer::start(|c| {
        c.engine.queue_capacity = 8;
        c.engine.max_batch_size = 4;
    });
    let url = Arc::new(server.url("/v1/classify"));
    let texts = Arc::new(common::banking_texts(256));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let (url, texts, outcomes) = (url.clone(), texts.clone(), outcomes.clone());
            std::thread::spawn(move || {
                for i in 0..8 {
                    // Mix single and small batch requests.
                    let body = if i % 2 == 0 {
                        json!({"text": texts[(t * 8 + i) % texts.len()]})
                    } else {
                        json!({"inputs": [texts[t], texts[t + 32], texts[t + 64]]})
                    };
                    let (s, j, retry) = post_raw(&url, body.to_string().as_bytes());
                    outcomes.lock().unwrap().push((s, j, retry, i % 2 == 1));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let outcomes = outcomes.lock().unwrap();
    assert_eq!(outcomes.len(), 32 * 8, "every request answered");
    let mut ok = 0;
    let mut refused = 0;
    for (s, j, retry, batch) in outcomes.iter() {
        match s {
            200 => {
                ok += 1;
                if *batch {
                    assert_eq!(j["results"].as_array().unwrap().len(), 3);
                } else {
                    assert!(j["intent"]["label"].is_string());
                }
            }
            429 => {
                refused += 1;
                assert_eq!(j["error"]["code"], "overloaded");
                assert!(retry.is_some(), "429 without Retry-After");
            }
            other => panic!("unexpected status {other}: {j}"),
        }
    }
    assert!(ok > 0, "nothing succeeded");
    assert!(
        refused > 0,
        "the queue never filled: the test did not test overload"
    );
    // After the storm the server is fine.
    let (s, _, _) = post_raw(&url, br#"{"text": "hello"}"#);
    assert_eq!(s, 200);
}
