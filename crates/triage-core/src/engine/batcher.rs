//! Which queued texts go into the next encoder call.

use super::{EngineConfig, Item};
use std::collections::VecDeque;

/// Takes texts in arrival order while the padded batch (items × longest) stays within the
/// token budget and the item limit. The first text always goes, so one text longer than
/// the budget is still served rather than stuck at the head of the queue.
pub(crate) fn next_batch(queue: &mut VecDeque<Item>, config: &EngineConfig) -> Vec<Item> {
    let mut batch = Vec::new();
    let mut longest = 0usize;
    while let Some(next) = queue.front() {
        let new_longest = longest.max(next.len());
        let fits = (batch.len() + 1) * new_longest <= config.max_batch_tokens
            && batch.len() < config.max_batch_size;
        if !batch.is_empty() && !fits {
            break;
        }
        longest = new_longest;
        if let Some(item) = queue.pop_front() {
            batch.push(item);
        }
    }
    batch
}
