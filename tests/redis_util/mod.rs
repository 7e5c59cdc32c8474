//! A real `redis-server` for the Redis tests, started as a child process on a free port
//! without persistence, and killed on drop. `.ci/run` installs redis-server; a machine
//! without it fails these tests loudly rather than skipping them.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// More redis-server arguments (a cluster node's).
    extra: Vec<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// On `port` with more redis-server arguments.
    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("triage-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Self {
            child: None,
            port,
            dir,
            extra: extra.iter().map(|a| a.to_string()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): install it (apt-get install redis-server; .ci/run does)")
            });
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if self.ping() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "redis-server did not come up on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200)) else {
            return false;
        };
        redis::cmd("PING").query::<String>(&mut c).is_ok()
    }

    /// Kills the server (SIGKILL: as abrupt as a crash) and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let start = Instant::now();
        while self.ping() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server would not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port after [`stop`](Self::stop) (empty: nothing was
    /// persisted).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
