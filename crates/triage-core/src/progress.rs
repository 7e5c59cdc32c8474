//! Progress of long offline jobs (indexing a knowledge base, caching training features,
//! fine-tuning) behind a small trait, so that library code never names a terminal UI.
//!
//! Library code asks [`bar`] for a reporter; the `triage` binary installs the terminal
//! progress bar once at start-up ([`install`]). Without one (a server embedding the
//! library, the tests) every reporter is [`Silent`].

use std::sync::OnceLock;

/// What a long job reports as it goes. Every method has a no-op default but [`inc`](Progress::inc).
pub trait Progress: Send + Sync {
    /// `n` more items done.
    fn inc(&self, n: u64);
    /// Jump to `pos` items done (a resumed job).
    fn set_position(&self, pos: u64) {
        let _ = pos;
    }
    /// A status line beside the bar (e.g. the current loss).
    fn set_message(&self, msg: String) {
        let _ = msg;
    }
    /// The job is over: remove the bar.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn inc(&self, _n: u64) {}
}

/// Makes a reporter for a job of `len` items described by `what` (e.g. `"kb index"`).
type Factory = fn(len: u64, what: &str) -> Box<dyn Progress>;

static FACTORY: OnceLock<Factory> = OnceLock::new();

/// Sets the reporter every later [`bar`] returns; the first call wins (returns false
/// when one was already installed).
pub fn install(factory: Factory) -> bool {
    FACTORY.set(factory).is_ok()
}

/// A reporter for a job of `len` items: the installed one, else [`Silent`].
pub fn bar(len: u64, what: &str) -> Box<dyn Progress> {
    match FACTORY.get() {
        Some(make) => make(len, what),
        None => Box::new(Silent),
    }
}
