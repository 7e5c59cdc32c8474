//! Which queued texts go into the next encoder call.

use super::{EngineConfig, Waiting};
use std::collections::VecDeque;

/// Takes texts round by round: the next text of each waiting request in arrival order,
/// then the next of each again, and so on, while the padded batch (items × longest)
/// stays within the token budget and the item limit; it stops at the first text that
/// does not fit. Requests left without texts leave the queue.
///
/// Why rounds and not plain arrival order: a 128-text request queued first would
/// otherwise fill every encoder call until it is done, and a one-text request behind it
/// would wait for all of them. Taken round by round, every waiting request gets a text
/// into each call (as long as the calls have room for one text per request), so a short
/// request behind a long one is answered by the next encoder call: its wait is bounded
/// by the batch budget and the number of requests ahead, not by their sizes.
///
/// The first text always goes, so one text longer than the budget is still served
/// rather than stuck at the head of the queue.
///
/// Pure: it looks at lengths only. Requests abandoned by their callers are taken out of
/// the queue before it runs (`Queue::drop_abandoned`).
pub(crate) fn next_batch(queue: &mut VecDeque<Waiting>, config: &EngineConfig) -> Vec<super::Item> {
    let mut batch = Vec::new();
    let mut longest = 0usize;
    'rounds: loop {
        let mut took = false;
        for waiting in queue.iter_mut() {
            let Some(next) = waiting.items.front() else {
                continue;
            };
            let new_longest = longest.max(next.len());
            let fits = (batch.len() + 1) * new_longest <= config.max_batch_tokens
                && batch.len() < config.max_batch_size;
            if !batch.is_empty() && !fits {
                break 'rounds;
            }
            if let Some(item) = waiting.items.pop_front() {
                longest = new_longest;
                batch.push(item);
                took = true;
            }
        }
        if !took {
            break;
        }
    }
    queue.retain(|w| !w.items.is_empty());
    batch
}
