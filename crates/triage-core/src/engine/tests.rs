use super::*;
use crate::model::BackendError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Embeds each text as `[first id, len]` and records the largest padded batch it saw.
struct Fake {
    delay: Duration,
    max_tokens_seen: AtomicUsize,
    panic_on: Option<u32>,
}

impl Backend for Fake {
    fn embed(&self, batch: &[&Encoded]) -> Result<Array2<f32>, BackendError> {
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
    });
    (Engine::start(fake.clone(), config), fake)
}

#[test]
fn results_come_back_in_order_and_within_budget() {
    let config = EngineConfig {
        max_batch_tokens: 64,
        max_batch_size: 8,
        queue_capacity: 1000,
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
