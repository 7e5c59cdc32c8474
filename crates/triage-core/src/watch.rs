//! One helper for every hot-reloaded file or folder (the handoff policy file, a
//! knowledge base): a named background thread that runs a first step once, then a
//! check every interval, until the returned `Watcher` stops it.
//!
//! Why polling on a thread rather than inotify: see `policy::reload`. Why one
//! helper: the policy file, the keys file and the live knowledge base each had their own
//! thread, channel and shutdown; now they share how a watch starts, how it stops, and
//! what happens when the thread cannot be started.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Starts a thread named `name` that runs `first` once, then `check` every `interval`
/// until `check` returns false or the [`Watcher`] stops it. With a zero interval the
/// thread ends after `first`. Errs only when the thread cannot be started (`first` and
/// `check` are then dropped unrun: callers that must not skip `first` run it themselves).
pub(crate) fn spawn(
    name: &str,
    interval: Duration,
    first: impl FnOnce() + Send + 'static,
    mut check: impl FnMut() -> bool + Send + 'static,
) -> std::io::Result<Watcher> {
    let (stop, stopped) = mpsc::channel::<()>();
    // The thread keeps a sender of its own, so that only an explicit stop ends it (a
    // detached watcher outlives the `Watcher` value).
    let keep = stop.clone();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _keep = keep;
            first();
            if interval.is_zero() {
                return;
            }
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                if !check() {
                    return;
                }
            }
        })?;
    Ok(Watcher {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Like `spawn`, for a check on something shared: the thread holds only a weak
/// reference to `target` and ends once the last strong one is dropped. An error to
/// start the thread is logged with `what` (what the user loses) and the watch left out.
pub fn spawn_weak<T: Send + Sync + 'static>(
    name: &str,
    interval: Duration,
    target: &Arc<T>,
    check: fn(&T),
    what: &str,
) {
    let weak: Weak<T> = Arc::downgrade(target);
    let step = move || match weak.upgrade() {
        Some(t) => {
            check(&t);
            true
        }
        None => false,
    };
    match spawn(name, interval, || {}, step) {
        Ok(w) => w.detach(),
        Err(e) => tracing::warn!(error = %e, "cannot start {name}: {what}"),
    }
}

/// A file's modification time and size: what a polled watch compares between checks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    /// The stamp of `path`; `None` when it cannot be read (missing, no permission).
    fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            modified: m.modified().ok(),
            len: m.len(),
        })
    }
}

/// When a polled file is due for a re-read: its stamp has changed from the one last read
/// and then held still for one more check, so that a file being written is not read half
/// way (an editor's save, `fs::write`'s truncate-then-write). The hot-reloaded policy and
/// API keys files share it.
#[derive(Debug, Default)]
pub struct Settle {
    /// The stamp when the file was last read: a file unchanged since is not read again,
    /// so an invalid one is reported once.
    seen: Mutex<Option<Stamp>>,
    /// A changed stamp waiting to be seen again, unchanged.
    pending: Mutex<Option<Stamp>>,
}

impl Settle {
    /// Starts from `path` as it is now (just read by the caller).
    pub fn new(path: &Path) -> Self {
        Self {
            seen: Mutex::new(Stamp::of(path)),
            pending: Mutex::new(None),
        }
    }

    /// Notes that `path` is being read now, whoever asked (the watch or a request).
    pub fn reading(&self, path: &Path) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Stamp::of(path);
    }

    /// One check: whether to read `path` now. A file that disappeared is due (once)
    /// only when `report_missing`.
    pub fn due(&self, path: &Path, report_missing: bool) -> bool {
        let now = Stamp::of(path);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if now == seen {
            *pending = None;
            return false;
        }
        if (now.is_some() || report_missing) && *pending == now {
            *pending = None;
            true
        } else {
            *pending = now;
            false
        }
    }
}

/// A running watch. Dropping it stops the thread and waits for it (a check under way
/// finishes first); [`Watcher::detach`] lets it run until its check returns false.
#[derive(Debug, Default)]
pub(crate) struct Watcher {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    pub(crate) fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Whether the thread has ended (or never started).
    pub(crate) fn is_finished(&self) -> bool {
        !self.is_running()
    }

    /// Asks the thread to stop after the step under way; waits for it when `wait`.
    pub(crate) fn stop(mut self, wait: bool) {
        self.halt(wait);
    }

    /// Lets the thread run on its own, until its check returns false.
    fn detach(mut self) {
        self.stop = None;
        self.thread = None;
    }

    fn halt(&mut self, wait: bool) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            // Never join from the watch thread itself (its check may drop the last
            // reference to what owns this watcher).
            if wait && t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_due_once_it_holds_still() {
        let dir = std::env::temp_dir().join(format!("triage-settle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.toml");
        std::fs::write(&f, "a").unwrap();
        let s = Settle::new(&f);
        assert!(!s.due(&f, true), "unchanged");
        std::fs::write(&f, "abc").unwrap();
        assert!(!s.due(&f, true), "changed: wait one check");
        assert!(s.due(&f, true), "held still: due");
        s.reading(&f);
        assert!(!s.due(&f, true), "read: not due again");
        std::fs::write(&f, "abcd").unwrap();
        assert!(!s.due(&f, true));
        std::fs::write(&f, "abcde").unwrap();
        assert!(!s.due(&f, true), "still changing");
        assert!(s.due(&f, true));
        s.reading(&f);
        std::fs::remove_file(&f).unwrap();
        assert!(
            !s.due(&f, false) && !s.due(&f, false),
            "a missing file, not reported"
        );
        assert!(
            s.due(&f, true),
            "a missing file, reported when asked (nothing to settle)"
        );
        s.reading(&f);
        assert!(!s.due(&f, true), "and only once");
        let _ = std::fs::remove_dir_all(&dir);
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn first_then_checks_until_dropped() {
        let n = Arc::new(AtomicUsize::new(0));
        let (a, b) = (n.clone(), n.clone());
        let w = spawn(
            "t-watch",
            Duration::from_millis(5),
            move || {
                a.fetch_add(100, Ordering::SeqCst);
            },
            move || {
                b.fetch_add(1, Ordering::SeqCst);
                true
            },
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert!(w.is_running());
        drop(w);
        let seen = n.load(Ordering::SeqCst);
        assert!(seen > 100, "{seen}");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(n.load(Ordering::SeqCst), seen, "stopped on drop");
    }

    #[test]
    fn detached_runs_until_check_says_stop() {
        let n = Arc::new(AtomicUsize::new(0));
        let c = n.clone();
        spawn(
            "t-watch",
            Duration::from_millis(2),
            || {},
            move || c.fetch_add(1, Ordering::SeqCst) < 2,
        )
        .unwrap()
        .detach();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn zero_interval_runs_first_only() {
        let w = spawn("t-watch", Duration::ZERO, || {}, || panic!("no checks")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(w.is_finished());
    }
}
