//! Metric label values come from a closed set: invented methods and paths collapse to
//! `other`, so hundreds of them leave `/metrics` the same size (issue 16: 3,000 invented
//! methods grew it to 25.6 MB). Alone in its test binary: the metrics recorder is global
//! to the process, and another test's requests would add series of their own.

mod common;

use common::{get, TestServer};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends one raw request and reads the whole answer; returns the status line.
fn raw(addr: &str, method: &str, path: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.lines().next().unwrap_or("").to_string()
}

/// Every series (name and labels, without the value).
fn series(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(k, _)| k).to_string())
        .collect()
}

#[test]
fn invented_methods_and_paths_leave_metrics_the_same_size() {
    let s = TestServer::start_with(|_| {}, false);
    let invent = |i: usize| {
        // A method and a path never seen before, on known and unknown routes.
        let method = format!("X{i}METHOD");
        let path = if i.is_multiple_of(2) {
            format!("/nowhere/{i}/{}", "p".repeat(i % 50))
        } else {
            "/v1/classify".to_string()
        };
        let status = raw(&s.addr, &method, &path);
        assert!(
            status.starts_with("HTTP/1.1 4"),
            "{method} {path}: {status}"
        );
        // And unknown paths with a standard method.
        let status = raw(&s.addr, "GET", &format!("/invented/{i}"));
        assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    };
    // The `other` series exist once the first invented requests are counted.
    for i in 0..4 {
        invent(i);
    }
    // `/metrics` itself is counted after it answers: once, so that its series exist.
    get(&s.url("/metrics"));
    let (_, before) = get(&s.url("/metrics"));
    for i in 4..600 {
        invent(i);
    }
    let (_, after) = get(&s.url("/metrics"));
    assert_eq!(series(&before), series(&after), "new series appeared");
    assert!(!after.contains("X599METHOD") && !after.contains("/nowhere/"));
    assert!(after.contains("method=\"other\"") && after.contains("route=\"other\""));
    // Only the numbers changed: a few more digits in counts and sums.
    let grown = after.len().abs_diff(before.len());
    assert!(
        grown < 400,
        "/metrics went from {} to {} bytes",
        before.len(),
        after.len()
    );
}
