//! A fixed pool of threads that run one job together (SPMD: every thread runs the same
//! closure with its own index) and meet at spin barriers inside it. The encoder's forward
//! pass is one job per batch: about 30 barriers, no thread started or woken per operation
//! (what cost candle 15% in rayon sleep/wake at 15 tokens).
//!
//! Idle workers spin for `SPIN_IDLE` after a job, then sleep on a condition variable, so a
//! server without traffic uses no CPU and back-to-back batches do not pay a wake-up.
//!
//! Each encoder has its own pool, also when a server loads several bundles: an idle
//! bundle's workers are asleep (no CPU measured over 10 s idle), and a pool shared by
//! the encoders, tried for issue 7, made concurrent traffic to two bundles slower on 2
//! busy cores (p50 about 4 ms against 2 ms): the second engine waited on the pool's lock
//! and then for sleeping workers to be woken, where two pools simply time-share.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker polls for the next job before sleeping.
const SPIN_IDLE: Duration = Duration::from_micros(200);
/// Spins at a barrier before yielding the core (another process, or the HTTP threads,
/// may need it while we wait for a descheduled peer).
const SPINS_BEFORE_YIELD: u32 = 256;

/// A barrier for the `n` threads of one job. Poisoned when a thread panics, so the others
/// unwind instead of waiting forever.
pub(crate) struct Barrier {
    n: usize,
    count: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

impl Barrier {
    fn new(n: usize) -> Self {
        Self {
            n,
            count: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Returns when all `n` threads have called `wait` (same number of times).
    pub(crate) fn wait(&self) {
        if self.n == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.count.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if self.poisoned.load(Ordering::Relaxed) {
                panic!("another encoder thread panicked");
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }
}

type Job<'a> = &'a (dyn Fn(usize, &Barrier) + Sync);

struct Shared {
    /// The current job; written by `run` before `generation` is bumped (Release) and read
    /// by workers after they observe the bump (Acquire).
    job: UnsafeCell<Option<Job<'static>>>,
    generation: AtomicUsize,
    /// Workers still running the current job.
    pending: AtomicUsize,
    barrier: Barrier,
    sleepers: Mutex<usize>,
    wake: Condvar,
    stop: AtomicBool,
}

// SAFETY: `job` is only written by `Pool::run` while no worker reads it (all workers have
// finished the previous job: `pending` is 0) and read by workers between the generation
// bump and their `pending` decrement, during which `run` does not return or write it.
unsafe impl Sync for Shared {}

pub(crate) struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serialises `run` calls (the pool runs one job at a time).
    running: Mutex<()>,
}

impl Pool {
    /// A pool of `threads` (≥ 1): the caller of `run` is thread 0, so `threads - 1`
    /// workers are started.
    pub(crate) fn new(threads: usize) -> Self {
        let n = threads.max(1);
        let shared = Arc::new(Shared {
            job: UnsafeCell::new(None),
            generation: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            barrier: Barrier::new(n),
            sleepers: Mutex::new(0),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let workers = (1..n)
            .filter_map(|id| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("triage-encoder-{id}"))
                    .spawn(move || worker(s, id))
                    .ok()
            })
            .collect::<Vec<_>>();
        // If a thread could not be started, run with fewer.
        let shared = if workers.len() + 1 == n {
            shared
        } else {
            tracing::warn!(
                wanted = n,
                started = workers.len() + 1,
                "encoder pool is smaller than configured"
            );
            let pool = Self {
                shared,
                workers,
                running: Mutex::new(()),
            };
            drop(pool);
            return Self::new(1);
        };
        Self {
            shared,
            workers,
            running: Mutex::new(()),
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(thread_index, barrier)` on every thread of the pool, the caller being
    /// thread 0, and returns when all have finished. A panic in any thread is re-raised
    /// here after every thread has left `f`.
    pub(crate) fn run(&self, f: &(dyn Fn(usize, &Barrier) + Sync)) {
        let _guard = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if self.workers.is_empty() {
            f(0, &self.shared.barrier);
            return;
        }
        let s = &*self.shared;
        // No thread is inside the barrier between jobs; a panic may have left it mid-count.
        s.barrier.count.store(0, Ordering::Relaxed);
        s.barrier.poisoned.store(false, Ordering::Relaxed);
        // SAFETY: the lifetime is erased only for the duration of this call: we wait below
        // until every worker has decremented `pending`, i.e. has stopped using `f`, before
        // returning (also when `f` panics on this thread). No worker reads `job` now:
        // `pending` is 0 between jobs.
        unsafe {
            *s.job.get() = Some(std::mem::transmute::<Job<'_>, Job<'static>>(f));
        }
        s.pending.store(self.workers.len(), Ordering::Relaxed);
        s.generation.fetch_add(1, Ordering::Release);
        {
            let sleepers = s.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            if *sleepers > 0 {
                s.wake.notify_all();
            }
        }
        let mine = catch_unwind(AssertUnwindSafe(|| f(0, &s.barrier)));
        if mine.is_err() {
            s.barrier.poison();
        }
        let mut spins = 0u32;
        while s.pending.load(Ordering::Acquire) > 0 {
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: every worker is done with the job (pending is 0).
        unsafe {
            *s.job.get() = None;
        }
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if s.barrier.poisoned.load(Ordering::Relaxed) {
            panic!("an encoder thread panicked");
        }
    }
}

fn worker(s: Arc<Shared>, id: usize) {
    let mut seen = 0usize;
    loop {
        // Wait for a new generation: spin briefly, then sleep.
        let started = Instant::now();
        let mut polls = 0u32;
        loop {
            if s.stop.load(Ordering::Acquire) {
                return;
            }
            if s.generation.load(Ordering::Acquire) != seen {
                break;
            }
            polls += 1;
            if !polls.is_multiple_of(64) || started.elapsed() < SPIN_IDLE {
                std::hint::spin_loop();
                continue;
            }
            let mut sleepers = s.sleepers.lock().unwrap_or_else(|e| e.into_inner());
            *sleepers += 1;
            while s.generation.load(Ordering::Acquire) == seen && !s.stop.load(Ordering::Acquire) {
                sleepers = s.wake.wait(sleepers).unwrap_or_else(|e| e.into_inner());
            }
            *sleepers -= 1;
        }
        seen = s.generation.load(Ordering::Acquire);
        // SAFETY: `run` wrote the job before bumping the generation we observed and keeps
        // it alive until we decrement `pending` below.
        let job = unsafe { *s.job.get() };
        if let Some(job) = job {
            if catch_unwind(AssertUnwindSafe(|| job(id, &s.barrier))).is_err() {
                s.barrier.poison();
            }
        }
        s.pending.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        {
            let _sleepers = self
                .shared
                .sleepers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_runs_each_job_and_barriers_order_phases() {
        for threads in [1, 2, 3, 4] {
            let pool = Pool::new(threads);
            assert_eq!(pool.threads(), threads);
            for round in 0..50 {
                let slots: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
                pool.run(&|id, barrier| {
                    slots[id].store(round + 1, Ordering::Relaxed);
                    barrier.wait();
                    // After the barrier every thread sees every other thread's write.
                    for s in &slots {
                        assert_eq!(s.load(Ordering::Relaxed), round + 1);
                    }
                    barrier.wait();
                });
            }
        }
    }

    #[test]
    fn jobs_after_an_idle_sleep_still_run() {
        let pool = Pool::new(2);
        let hits = AtomicUsize::new(0);
        pool.run(&|_, _| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        std::thread::sleep(Duration::from_millis(20));
        pool.run(&|_, _| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_panicking_thread_is_reported_and_the_pool_stays_usable() {
        let pool = Pool::new(2);
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.run(&|id, barrier| {
                if id == 1 {
                    panic!("boom");
                }
                barrier.wait();
            })
        }));
        assert!(r.is_err());
        let hits = AtomicUsize::new(0);
        pool.run(&|_, barrier| {
            barrier.wait();
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 2);
    }
}
