//! The batching engine: requests from many connections meet in one bounded queue, a
//! dedicated inference thread takes as many queued texts as fit a token budget, runs the
//! encoder once for all of them and routes each embedding back to its caller.
//!
//! Why a thread and not a tokio task: the encoder is seconds of pure CPU per minute and
//! would starve the async runtime. Why a token budget: a batch's cost is its item count
//! times its longest item, so the budget bounds latency whatever the message lengths.
//! Why a bounded queue: at a sales peak, an immediate 429 with `Retry-After` lets a
//! client back off; an unbounded queue only turns overload into timeouts. The queue is
//! bounded in texts and in tokens (what the encoder's time depends on), and a request
//! larger than the whole queue is refused as too large (413) rather than as overload,
//! which a retry could never fix. Texts are taken round by round over the waiting
//! requests (`batcher::next_batch`), so a short request is not stuck behind a long
//! one. A request whose caller is gone (client disconnected, server shutting down) is
//! dropped from the queue before it reaches the encoder.

mod batcher;

use crate::cause::Detail;
use crate::model::{Backend, Encoded};
use crate::trace;
use batcher::next_batch;
use ndarray::Array2;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::oneshot;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Padded tokens (items × longest item) one encoder call may take.
    pub max_batch_tokens: usize,
    /// Items one encoder call may take.
    pub max_batch_size: usize,
    /// Texts waiting at most; beyond it requests are refused with 429 (413 for a
    /// request with more texts than the whole queue).
    pub queue_capacity: usize,
    /// Tokens waiting at most (the queued texts' lengths summed): beyond it requests are
    /// refused with 429, and a request needing more than the whole budget with 413. It
    /// bounds how long the last queued text waits: about this many tokens of encoder
    /// work.
    pub queue_tokens: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_batch_tokens: 4096,
            max_batch_size: 64,
            queue_capacity: 2048,
            queue_tokens: 65_536,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The queue cannot take the request now; it may later.
    #[error("the server is overloaded: {queued} {unit} are queued (capacity {capacity})")]
    Overloaded {
        queued: usize,
        capacity: usize,
        /// `texts` or `tokens`: which bound the request hit.
        unit: &'static str,
    },
    /// The request needs more than the whole queue: it can never be taken.
    #[error("the request needs {needed} {unit} of queue; the whole queue holds {capacity}")]
    TooLarge {
        needed: usize,
        capacity: usize,
        unit: &'static str,
    },
    #[error("the engine is shutting down")]
    Closed,
    /// The encoder failed: its error is the source ([`Detail`], shared, so the one
    /// error can answer every job of the batch).
    #[error("{0}")]
    Backend(#[source] Detail),
}

type Reply = Result<Array2<f32>, EngineError>;

/// One caller's texts; answered when the last of them has been encoded.
struct Job {
    state: Mutex<JobState>,
    /// The caller's span (a request's, when traced), parent of the `encode` spans.
    caller: tracing::Span,
    /// Open from submission until a batch first takes one of the job's texts.
    queued: Mutex<Option<tracing::Span>>,
}

struct JobState {
    rows: Array2<f32>,
    remaining: usize,
    reply: Option<oneshot::Sender<Reply>>,
}

impl Job {
    fn fill(&self, index: usize, row: ndarray::ArrayView1<f32>) {
        let Ok(mut s) = self.state.lock() else { return };
        s.rows.row_mut(index).assign(&row);
        s.remaining -= 1;
        if s.remaining == 0 {
            if let Some(tx) = s.reply.take() {
                let rows = std::mem::replace(&mut s.rows, Array2::zeros((0, 0)));
                let _ = tx.send(Ok(rows));
            }
        }
    }

    /// Nobody waits for the answer any more: the caller dropped its receiver (its
    /// client disconnected, or the server gave up on it at shutdown), or it was already
    /// answered with an error.
    fn abandoned(&self) -> bool {
        match self.state.lock() {
            Ok(s) => s.reply.as_ref().is_none_or(|tx| tx.is_closed()),
            Err(_) => true,
        }
    }

    fn fail(&self, err: EngineError) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(tx) = s.reply.take() {
                let _ = tx.send(Err(err));
            }
        }
    }
}

struct Item {
    enc: Encoded,
    job: Arc<Job>,
    index: usize,
    enqueued: Instant,
}

impl Item {
    fn len(&self) -> usize {
        self.enc.len()
    }
}

/// The texts of one request that have not gone to the encoder yet.
struct Waiting {
    job: Arc<Job>,
    items: VecDeque<Item>,
}

struct Queue {
    /// Requests in arrival order.
    waiting: VecDeque<Waiting>,
    /// Texts and tokens queued, over every request.
    texts: usize,
    tokens: usize,
    closed: bool,
    /// Closed by [`Engine::stop`]: the queued work was dropped.
    stopped: bool,
}

impl Queue {
    /// Takes out the requests nobody waits for; returns how many texts that dropped.
    fn drop_abandoned(&mut self) -> usize {
        let mut dropped = 0;
        let mut tokens = 0;
        self.waiting.retain(|w| {
            if w.job.abandoned() {
                dropped += w.items.len();
                tokens += w.items.iter().map(Item::len).sum::<usize>();
                false
            } else {
                true
            }
        });
        self.texts -= dropped;
        self.tokens -= tokens;
        if dropped > 0 {
            metrics::counter!("triage_engine_abandoned_total").increment(dropped as u64);
        }
        dropped
    }

    /// Whether `texts` more texts of `tokens` tokens fit beside what is queued.
    fn refuses(&self, texts: usize, tokens: usize, c: &EngineConfig) -> Option<EngineError> {
        if self.texts + texts > c.queue_capacity {
            Some(EngineError::Overloaded {
                queued: self.texts,
                capacity: c.queue_capacity,
                unit: "texts",
            })
        } else if self.tokens + tokens > c.queue_tokens {
            Some(EngineError::Overloaded {
                queued: self.tokens,
                capacity: c.queue_tokens,
                unit: "tokens",
            })
        } else {
            None
        }
    }
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    config: EngineConfig,
}

pub struct Engine {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    hidden: usize,
}

impl Engine {
    pub(crate) fn start(backend: Arc<dyn Backend>, config: EngineConfig) -> Self {
        let hidden = backend.hidden_size();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                texts: 0,
                tokens: 0,
                closed: false,
                stopped: false,
            }),
            ready: Condvar::new(),
            config,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("triage-inference".into())
            .spawn(move || run(worker, backend))
            .ok();
        if thread.is_none() {
            tracing::error!("could not start the inference thread");
            if let Ok(mut q) = shared.queue.lock() {
                q.closed = true;
            }
        }
        Self {
            shared,
            thread: Mutex::new(thread),
            hidden,
        }
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// Texts queued.
    pub fn queue_depth(&self) -> usize {
        self.shared.queue.lock().map(|q| q.texts).unwrap_or(0)
    }

    /// Tokens queued.
    #[cfg(test)]
    fn queued_tokens(&self) -> usize {
        self.shared.queue.lock().map(|q| q.tokens).unwrap_or(0)
    }

    /// Queues all texts of one call or none: a batch request is refused whole when the
    /// queue cannot take all of it, so a caller never gets half an answer.
    fn submit(&self, encs: Vec<Encoded>) -> Result<oneshot::Receiver<Reply>, EngineError> {
        let (tx, rx) = oneshot::channel();
        let n = encs.len();
        let caller = tracing::Span::current();
        let queued = trace::step_of(
            &caller,
            |p| tracing::info_span!(parent: p, "queue", texts = n),
        );
        let job = Arc::new(Job {
            state: Mutex::new(JobState {
                rows: Array2::zeros((n, self.hidden)),
                remaining: n,
                reply: Some(tx),
            }),
            caller,
            queued: Mutex::new(Some(queued)),
        });
        if n == 0 {
            job.fill_empty();
            return Ok(rx);
        }
        let config = &self.shared.config;
        let tokens: usize = encs.iter().map(Encoded::len).sum();
        if n > config.queue_capacity {
            return Err(EngineError::TooLarge {
                needed: n,
                capacity: config.queue_capacity,
                unit: "texts",
            });
        }
        if tokens > config.queue_tokens {
            return Err(EngineError::TooLarge {
                needed: tokens,
                capacity: config.queue_tokens,
                unit: "tokens",
            });
        }
        let mut q = self.shared.queue.lock().map_err(|_| EngineError::Closed)?;
        if q.closed {
            return Err(EngineError::Closed);
        }
        // Requests whose clients left still count until the thread next looks: look now
        // before refusing anyone for them.
        if q.refuses(n, tokens, config).is_some() {
            q.drop_abandoned();
        }
        if let Some(err) = q.refuses(n, tokens, config) {
            metrics::counter!("triage_engine_rejected_total").increment(n as u64);
            return Err(err);
        }
        let now = Instant::now();
        let items = encs
            .into_iter()
            .enumerate()
            .map(|(index, enc)| Item {
                enc,
                job: job.clone(),
                index,
                enqueued: now,
            })
            .collect();
        q.waiting.push_back(Waiting { job, items });
        q.texts += n;
        q.tokens += tokens;
        metrics::gauge!("triage_queue_depth").set(q.texts as f64);
        drop(q);
        self.shared.ready.notify_one();
        Ok(rx)
    }

    /// Embeddings for `encs`, in order, from async code.
    pub async fn embed(&self, encs: Vec<Encoded>) -> Result<Array2<f32>, EngineError> {
        let rx = self.submit(encs)?;
        rx.await.unwrap_or(Err(EngineError::Closed))
    }

    /// The same from a plain thread (CLI, training, evaluation).
    pub(crate) fn embed_blocking(&self, encs: Vec<Encoded>) -> Result<Array2<f32>, EngineError> {
        let rx = self.submit(encs)?;
        rx.blocking_recv().unwrap_or(Err(EngineError::Closed))
    }

    /// Stops taking work and answers every queued request `Closed` at once (the server
    /// is going away: nobody will read those answers). The thread finishes the batch it
    /// is running, if any, and exits; `Self::shutdown` (or drop) joins it.
    pub fn stop(&self) {
        let abandoned: Vec<Waiting> = match self.shared.queue.lock() {
            Ok(mut q) => {
                q.closed = true;
                q.stopped = true;
                q.texts = 0;
                q.tokens = 0;
                q.waiting.drain(..).collect()
            }
            Err(_) => Vec::new(),
        };
        self.shared.ready.notify_all();
        let texts: usize = abandoned.iter().map(|w| w.items.len()).sum();
        if texts > 0 {
            metrics::counter!("triage_engine_abandoned_total").increment(texts as u64);
            tracing::info!(texts, "shutting down: queued texts dropped");
        }
        for w in abandoned {
            w.job.fail(EngineError::Closed);
        }
    }

    /// Stops taking work, lets the thread finish what is queued for callers still
    /// waiting (abandoned requests are skipped), and joins it.
    fn shutdown(&self) {
        if let Ok(mut q) = self.shared.queue.lock() {
            q.closed = true;
        }
        self.shared.ready.notify_all();
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    /// Joins the thread after the queued work, unless [`Engine::stop`] already dropped
    /// that work: then nobody waits for the batch the thread may still be running, and
    /// the process need not either (the thread ends on its own after it).
    fn drop(&mut self) {
        let stopped = self.shared.queue.lock().map_or(true, |q| q.stopped);
        if !stopped {
            self.shutdown();
        }
    }
}

impl Job {
    fn fill_empty(&self) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(tx) = s.reply.take() {
                let _ = tx.send(Ok(std::mem::replace(&mut s.rows, Array2::zeros((0, 0)))));
            }
        }
    }
}

fn run(shared: Arc<Shared>, backend: Arc<dyn Backend>) {
    loop {
        let batch = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            while q.waiting.is_empty() && !q.closed {
                q = match shared.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            q.drop_abandoned();
            if q.waiting.is_empty() {
                if q.closed {
                    return;
                }
                continue;
            }
            let batch = next_batch(&mut q.waiting, &shared.config);
            q.texts -= batch.len();
            q.tokens -= batch.iter().map(Item::len).sum::<usize>();
            metrics::gauge!("triage_queue_depth").set(q.texts as f64);
            batch
        };
        encode_batch(backend.as_ref(), batch);
    }
}

fn encode_batch(backend: &dyn Backend, batch: Vec<Item>) {
    let started = Instant::now();
    let longest = batch.iter().map(Item::len).max().unwrap_or(0);
    metrics::histogram!("triage_batch_size").record(batch.len() as f64);
    metrics::histogram!("triage_batch_tokens").record((batch.len() * longest) as f64);
    for item in &batch {
        metrics::histogram!("triage_queue_wait_seconds")
            .record(started.duration_since(item.enqueued).as_secs_f64());
    }
    let refs: Vec<&Encoded> = batch.iter().map(|i| &i.enc).collect();
    let spans = encode_spans(&batch, longest);
    // A panic inside the encoder must not take the engine (and every later request) down.
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| backend.embed(&refs)));
    metrics::histogram!("triage_inference_seconds").record(started.elapsed().as_secs_f64());
    drop(spans);
    match out {
        Ok(Ok(rows)) if rows.nrows() == batch.len() => {
            for (item, row) in batch.iter().zip(rows.outer_iter()) {
                item.job.fill(item.index, row);
            }
        }
        Ok(Ok(rows)) => fail_all(
            &batch,
            EngineError::Backend(
                format!("encoder returned {} rows for {}", rows.nrows(), batch.len()).into(),
            ),
        ),
        Ok(Err(e)) => fail_all(&batch, EngineError::Backend(Detail::of(e))),
        Err(_) => fail_all(&batch, EngineError::Backend("encoder panicked".into())),
    }
}

/// Ends the `queue` span of every job the batch starts on and opens its `encode` span
/// (one per job, though the jobs share the encoder call), closed when the call returns.
fn encode_spans(batch: &[Item], longest: usize) -> Vec<tracing::Span> {
    let mut jobs: Vec<&Arc<Job>> = Vec::new();
    for item in batch {
        if !jobs.iter().any(|j| Arc::ptr_eq(j, &item.job)) {
            jobs.push(&item.job);
        }
    }
    jobs.into_iter()
        .filter(|job| !job.caller.is_none())
        .map(|job| {
            if let Ok(mut q) = job.queued.lock() {
                q.take();
            }
            tracing::info_span!(parent: &job.caller, "encode", batch = batch.len(), padded_tokens = batch.len() * longest)
        })
        .collect()
}

fn fail_all(batch: &[Item], err: EngineError) {
    tracing::error!(error = %err, items = batch.len(), "batch failed");
    for item in batch {
        item.job.fail(err.clone());
    }
}

#[cfg(test)]
mod tests;
