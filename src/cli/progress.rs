//! The terminal progress bar behind [`triage_core::progress`]: drawn on stderr when it is
//! a terminal, hidden otherwise (pipes, CI, the tests). Installed once by `main`.

use triage_core::progress::Progress;

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }
    fn set_message(&self, msg: String) {
        self.0.set_message(msg);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// A bar for `len` items labelled `what`.
pub fn progress_bar(len: u64, what: &str) -> Box<dyn Progress> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return Box::new(Bar(indicatif::ProgressBar::hidden()));
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    Box::new(Bar(bar))
}
