use super::*;
use crate::model::BackendError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Embeds each text as `[first id, len]` and records the largest padded batch it saw
/// and the first ids of every batch, in order.
struct Fake {
    delay: Duration,
    max_tokens_seen: AtomicUsize,
    panic_on: Option<u32>,
    batches: Mutex<Vec<Vec<u32>>>,
}

impl Fake {
    fn batches(&self) -> Vec<Vec<u32>> {
        self.batches.lock().unwrap().clone()
    }

    /// Waits (bounded) until `n` batches have started.
    fn wait_batches(&self, n: usize) {
        let started = Instant::now();
        while self.batches.lock().unwrap().len() < n {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no batch started"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Backend for Fake {
    fn embed(&self, batch: &[&Encoded]) -> Result<Array2<f32>, BackendError> {
        self.batches
            .lock()
            .unwrap()
            .push(batch.iter().map(|e| e.ids[0]).collect());
        std::thread::sleep(self.delay);
        let longest = batch.iter().map(|e| e.len()).max().unwrap_or(0);
        self.max_tokens_seen
            .fetch_max(longest * batch.len(), Ordering::SeqCst);
        if batch.iter().any(|e| Some(e.ids[0]) == self.panic_on) {
            panic!("boom");
        }
        let mut out = Array2::zeros((batch.len(), 2));
        for (i, e) in batch.iter().enumerate() {
            out[[i, 0]] = e.ids[0] as f32;
            out[[i, 1]] = e.len() as f32;
        }
        Ok(out)
    }
    fn hidden_size(&self) -> usize {
        2
    }
}

fn enc(id: u32, len: usize) -> Encoded {
    Encoded {
        ids: std::iter::once(id)
            .chain(std::iter::repeat_n(7, len - 1))
            .collect(),
        type_ids: vec![0; len],
    }
}

fn engine(delay_ms: u64, config: EngineConfig, panic_on: Option<u32>) -> (Engine, Arc<Fake>) {
    let fake = Arc::new(Fake {
        delay: Duration::from_millis(delay_ms),
        max_tokens_seen: AtomicUsize::new(0),
        panic_on,
        batches: Mutex::new(Vec::new()),
    });
    (Engine::start(fake.clone(), config), fake)
}

#[test]
fn results_come_back_in_order_and_within_budget() {
    let config = EngineConfig {
        max_batch_tokens: 64,
        max_batch_size: 8,
        queue_capacity: 1000,
        ..EngineConfig::default()
    };
    let (engine, fake) = engine(1, config, None);
    let engine = Arc::new(engine);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let encs: Vec<Encoded> = (0..20)
                    .map(|i| enc(t * 100 + i, 1 + (i as usize % 13)))
                    .collect();
                let out = engine.embed_blocking(encs).unwrap();
                for i in 0..20u32 {
                    assert_eq!(out[[i as usize, 0]], (t * 100 + i) as f32);
                    assert_eq!(out[[i as usize, 1]], (1 + i % 13) as f32);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(fake.max_tokens_seen.load(Ordering::SeqCst) <= 64);
}

#[test]
fn an_item_longer_than_the_budget_is_still_served() {
    let config = EngineConfig {
        max_batch_tokens: 4,
        max_batch_size: 8,
        queue_capacity: 10,
        ..EngineConfig::default()
    };
    let (engine, _) = engine(0, config, None);
    let out = engine.embed_blocking(vec![enc(5, 30)]).unwrap();
    assert_eq!(out[[0, 1]], 30.0);
}

#[test]
fn a_full_queue_refuses_whole_requests() {
    let config = EngineConfig {
        max_batch_tokens: 8,
        max_batch_size: 1,
        queue_capacity: 4,
        ..EngineConfig::default()
    };
    let (engine, _) = engine(50, config, None);
    let engine = Arc::new(engine);
    let first = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.embed_blocking(vec![enc(1, 2), enc(2, 2), enc(3, 2)]))
    };
    std::thread::sleep(Duration::from_millis(10));
    // 3 queued (or 2 queued + 1 in flight): 3 more cannot all fit.
    let err = engine.embed_blocking(vec![enc(4, 2), enc(5, 2), enc(6, 2)]);
    assert!(
        matches!(err, Err(EngineError::Overloaded { capacity: 4, .. })),
        "{err:?}"
    );
    assert_eq!(first.join().unwrap().unwrap().nrows(), 3);
}

#[test]
fn a_panicking_backend_fails_only_its_batch() {
    let config = EngineConfig {
        max_batch_tokens: 100,
        max_batch_size: 1,
        queue_capacity: 10,
        ..EngineConfig::default()
    };
    let (engine, _) = engine(0, config, Some(13));
    assert!(matches!(
        engine.embed_blocking(vec![enc(13, 3)]),
        Err(EngineError::Backend(_))
    ));
    assert_eq!(
        engine.embed_blocking(vec![enc(14, 3)]).unwrap()[[0, 0]],
        14.0
    );
}

#[test]
fn shutdown_finishes_queued_work_then_refuses() {
    let (engine, _) = engine(5, EngineConfig::default(), None);
    let engine = Arc::new(engine);
    let pending: Vec<_> = (0..5)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || engine.embed_blocking(vec![enc(i, 3)]))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2));
    engine.shutdown();
    for p in pending {
        // Either finished, or refused because it arrived after shutdown: never hanging.
        match p.join().unwrap() {
            Ok(rows) => assert_eq!(rows.nrows(), 1),
            Err(e) => assert!(matches!(e, EngineError::Closed)),
        }
    }
    assert!(matches!(
        engine.embed_blocking(vec![enc(1, 2)]),
        Err(EngineError::Closed)
    ));
}

#[test]
fn empty_requests_answer_at_once() {
    let (engine, _) = engine(0, EngineConfig::default(), None);
    assert_eq!(engine.embed_blocking(vec![]).unwrap().nrows(), 0);
}

/// Waits (bounded) until `n` texts are queued.
fn wait_depth(engine: &Engine, n: usize) {
    let started = Instant::now();
    while engine.queue_depth() != n {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "queue never reached {n}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn waiting(first_id: u32, lens: &[usize]) -> Waiting {
    let job = Arc::new(Job {
        state: Mutex::new(JobState {
            rows: Array2::zeros((lens.len(), 2)),
            remaining: lens.len(),
            reply: None,
        }),
        caller: tracing::Span::none(),
        queued: Mutex::new(None),
    });
    let items = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| Item {
            enc: enc(first_id + i as u32, len),
            job: job.clone(),
            index: i,
            enqueued: Instant::now(),
        })
        .collect();
    Waiting { job, items }
}

#[test]
fn batches_take_one_text_per_waiting_request_per_round() {
    let config = EngineConfig {
        max_batch_tokens: 1000,
        max_batch_size: 4,
        ..EngineConfig::default()
    };
    let mut queue: VecDeque<Waiting> = [
        waiting(10, &[4, 4, 4]),
        waiting(20, &[2]),
        waiting(30, &[3, 3]),
    ]
    .into();
    let ids = |b: Vec<Item>| b.iter().map(|i| i.enc.ids[0]).collect::<Vec<_>>();
    assert_eq!(ids(next_batch(&mut queue, &config)), [10, 20, 30, 11]);
    // The one-text request is done and gone; the others keep their order.
    assert_eq!(queue.len(), 2);
    assert_eq!(ids(next_batch(&mut queue, &config)), [12, 31]);
    assert!(queue.is_empty());

    // The token budget ends a batch at the first text that does not fit (each round
    // starts again from the oldest request); the first text always goes, even one
    // longer than the budget.
    let tight = EngineConfig {
        max_batch_tokens: 8,
        max_batch_size: 64,
        ..EngineConfig::default()
    };
    let mut queue: VecDeque<Waiting> = [waiting(10, &[4, 4]), waiting(20, &[9])].into();
    assert_eq!(ids(next_batch(&mut queue, &tight)), [10]);
    assert_eq!(ids(next_batch(&mut queue, &tight)), [11]);
    assert_eq!(ids(next_batch(&mut queue, &tight)), [20]);
    assert!(queue.is_empty());
}

#[test]
fn a_short_request_behind_a_long_one_rides_in_the_next_batch() {
    // 40 texts of 100 tokens at 400 tokens a batch: ten encoder calls for the long one.
    let config = EngineConfig {
        max_batch_tokens: 400,
        max_batch_size: 64,
        ..EngineConfig::default()
    };
    let (engine, fake) = engine(20, config, None);
    let engine = Arc::new(engine);
    let long = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            engine.embed_blocking((0..40).map(|i| enc(1000 + i, 100)).collect())
        })
    };
    fake.wait_batches(1);
    let started_before = fake.batches().len();
    let short = engine.embed_blocking(vec![enc(7, 5)]).unwrap();
    assert_eq!(short[[0, 0]], 7.0);
    let long = long.join().unwrap().unwrap();
    assert_eq!(long.nrows(), 40);
    assert!((0..40).all(|i| long[[i, 0]] == (1000 + i) as f32));
    let batches = fake.batches();
    let at = batches.iter().position(|b| b.contains(&7)).unwrap();
    // The batch running when it arrived, perhaps the one just taken, then its own:
    // never behind the rest of the long request.
    assert!(
        at <= started_before + 1,
        "short text in batch {at} of {}, submitted after {started_before}: {batches:?}",
        batches.len()
    );
    assert!(at + 2 < batches.len(), "{batches:?}");
}

#[test]
fn requests_whose_callers_left_never_reach_the_encoder() {
    let config = EngineConfig {
        max_batch_size: 1,
        ..EngineConfig::default()
    };
    let (engine, fake) = engine(200, config, None);
    let engine = Arc::new(engine);
    let first = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.embed_blocking(vec![enc(1, 3)]))
    };
    fake.wait_batches(1);
    // Queued while the first runs, then abandoned (its client disconnected).
    let gone = engine.submit(vec![enc(2, 3), enc(3, 3)]).unwrap();
    assert_eq!(engine.queue_depth(), 2);
    drop(gone);
    let last = engine.embed_blocking(vec![enc(4, 3)]).unwrap();
    assert_eq!(last[[0, 0]], 4.0);
    assert_eq!(first.join().unwrap().unwrap()[[0, 0]], 1.0);
    assert_eq!(fake.batches(), [vec![1], vec![4]]);
    assert_eq!(engine.queue_depth(), 0);
    assert_eq!(engine.queued_tokens(), 0);
}

#[test]
fn stop_answers_the_queue_at_once_and_lets_the_running_batch_finish() {
    let config = EngineConfig {
        max_batch_size: 1,
        ..EngineConfig::default()
    };
    let (engine, fake) = engine(300, config, None);
    let engine = Arc::new(engine);
    let first = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.embed_blocking(vec![enc(1, 3)]))
    };
    fake.wait_batches(1);
    let queued: Vec<_> = (2..6)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || engine.embed_blocking(vec![enc(i, 3)]))
        })
        .collect();
    wait_depth(&engine, 4);
    engine.stop();
    for q in queued {
        assert!(matches!(q.join().unwrap(), Err(EngineError::Closed)));
    }
    assert_eq!(first.join().unwrap().unwrap()[[0, 0]], 1.0);
    engine.shutdown();
    assert_eq!(fake.batches(), [vec![1]]);
    assert!(matches!(
        engine.embed_blocking(vec![enc(9, 2)]),
        Err(EngineError::Closed)
    ));
}

#[test]
fn the_queue_is_bounded_in_tokens_and_a_request_larger_than_it_is_too_large() {
    let config = EngineConfig {
        max_batch_size: 1,
        queue_capacity: 4,
        queue_tokens: 20,
        ..EngineConfig::default()
    };
    let (engine, fake) = engine(300, config, None);
    let engine = Arc::new(engine);
    // More texts, or more tokens, than the whole queue: never servable.
    let five: Vec<Encoded> = (0..5).map(|i| enc(i, 2)).collect();
    assert!(matches!(
        engine.embed_blocking(five),
        Err(EngineError::TooLarge {
            needed: 5,
            capacity: 4,
            unit: "texts"
        })
    ));
    assert!(matches!(
        engine.embed_blocking(vec![enc(1, 21)]),
        Err(EngineError::TooLarge {
            needed: 21,
            capacity: 20,
            unit: "tokens"
        })
    ));
    // Within it but not beside what is queued: overloaded, in tokens.
    let first = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.embed_blocking(vec![enc(1, 20)]))
    };
    fake.wait_batches(1);
    let second = {
        let engine = engine.clone();
        std::thread::spawn(move || engine.embed_blocking(vec![enc(2, 10), enc(3, 8)]))
    };
    wait_depth(&engine, 2);
    assert_eq!(engine.queued_tokens(), 18);
    assert!(matches!(
        engine.embed_blocking(vec![enc(4, 5)]),
        Err(EngineError::Overloaded {
            queued: 18,
            capacity: 20,
            unit: "tokens"
        })
    ));
    assert_eq!(first.join().unwrap().unwrap().nrows(), 1);
    assert_eq!(second.join().unwrap().unwrap().nrows(), 2);
    assert_eq!(engine.embed_blocking(vec![enc(5, 20)]).unwrap().nrows(), 1);
}
