//! Load benchmark: drives `POST /v1/classify` (one banking77 test text per request) at
//! rising concurrency over keep-alive HTTP/1.1 connections and prints throughput and
//! p50/p99 latency. Starts `target/release/triage serve` on a free port itself, or uses
//! the server at `$TRIAGE_URL`. The server reads `config/triage.toml` and the `TRIAGE_*`
//! environment, so `TRIAGE_ENCODER=int8` picks its encoder.
//! Run: `cargo bench --bench load` (`LOAD_SECS`, `LOAD_CONCURRENCY=1,8,32` to change).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server(Option<Child>);
impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

fn texts() -> Vec<String> {
    let root = std::env::var_os("TRIAGE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    triage_lab::data::load(&root, "banking77", triage_lab::data::Split::Test)
        .expect("banking77 test split")
        .into_iter()
        .take(2048)
        .map(|r| r.text)
        .collect()
}

fn start_server() -> (String, Server) {
    if let Ok(url) = std::env::var("TRIAGE_URL") {
        return (
            url.trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            Server(None),
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // `$TRIAGE_BIN`, else the release binary of `$CARGO_TARGET_DIR` or `target/`.
    let bin = std::env::var_os("TRIAGE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
                .join("release/triage")
        });
    assert!(bin.exists(), "build first: cargo build --release");
    let child = Command::new(bin)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["serve", "--addr", &addr])
        .env("TRIAGE_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start server");
    let server = Server(Some(child));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = ureq::get(&format!("http://{addr}/ready")).call() {
            if r.status() == 200 {
                return (addr, server);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server not ready");
}

/// One connection sending requests back to back until `until`; returns latencies and
/// the count of non-200 answers.
async fn client(
    addr: String,
    bodies: Arc<Vec<Bytes>>,
    offset: usize,
    until: Instant,
) -> (Vec<f64>, usize) {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream.set_nodelay(true).ok();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut i = offset;
    while Instant::now() < until {
        let req = Request::post("/v1/classify")
            .header("host", &addr)
            .header("content-type", "application/json")
            .body(Full::new(bodies[i % bodies.len()].clone()))
            .expect("request");
        let t = Instant::now();
        match send.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status() == 200;
                let _ = resp.into_body().collect().await;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                errors += (!ok) as usize;
            }
            Err(_) => {
                errors += 1;
                break;
            }
        }
        i += 1;
    }
    (lat, errors)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes --bench; this is no criterion harness, ignore arguments.
    let secs: u64 = std::env::var("LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let levels: Vec<usize> = std::env::var("LOAD_CONCURRENCY")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 4, 16, 32, 64]);
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        texts()
            .into_iter()
            .map(|t| Bytes::from(serde_json::json!({"text": t}).to_string()))
            .collect(),
    );
    let (addr, _server) = start_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    println!("| connections | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|");
    for &c in &levels {
        // Warm-up, then the measured window.
        let until = Instant::now() + Duration::from_secs(1);
        rt.block_on(async {
            let hs: Vec<_> = (0..c)
                .map(|i| tokio::spawn(client(addr.clone(), bodies.clone(), i * 31, until)))
                .collect();
            for h in hs {
                let _ = h.await;
            }
        });
        let started = Instant::now();
        let until = started + Duration::from_secs(secs);
        let (mut lat, errors) = rt.block_on(async {
            let hs: Vec<_> = (0..c)
                .map(|i| tokio::spawn(client(addr.clone(), bodies.clone(), i * 97, until)))
                .collect();
            let mut all = Vec::new();
            let mut errors = 0;
            for h in hs {
                if let Ok((l, e)) = h.await {
                    all.extend(l);
                    errors += e;
                }
            }
            (all, errors)
        });
        let elapsed = started.elapsed().as_secs_f64();
        lat.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {c} | {:.0} | {:.2} | {:.2} | {errors} |",
            lat.len() as f64 / elapsed,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
}
