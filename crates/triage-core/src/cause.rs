//! The error underneath another: kept whole (for logs and the CLI's "caused by" lines)
//! instead of being flattened into text, while the errors that hold it stay `Clone`.
//!
//! Why `Clone` at all: the batching engine answers every caller of a failed batch with
//! the same [`EngineError`](crate::engine::EngineError) (`fail_all` clones it once per
//! job), and [`TriageError`](crate::error::TriageError) wraps it; the policy and store
//! errors are kept in reload statuses and copied into answers. Most underlying errors
//! (`std::io::Error`, `redis::RedisError`, `toml::de::Error`, a `JoinError`) are not
//! `Clone`, so they are shared behind an `Arc` here.
//!
//! Why the text is kept too: the messages are part of the API (the HTTP `message`, the
//! CLI's first line) and stay exactly what they were, so an error's `Display` still
//! includes its cause's text *and* `source()` returns the cause. Whoever prints a chain
//! (the CLI, see `src/main.rs`) skips a cause whose text the message already says.
//!
//! A leaf module (it names nothing else in the crate) so every layer, the model and the
//! store included, can use it without an import cycle through `error`.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// An underlying error, shared. Transparent: its `Display` and `source()` are those of
/// the error it holds.
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

impl Cause {
    pub(crate) fn new(e: impl Error + Send + Sync + 'static) -> Self {
        Cause(Arc::new(e))
    }

    /// The error it holds, for callers that look for a particular type
    /// (`cause.get().downcast_ref::<std::io::Error>()`).
    pub fn get(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.0
    }
}

/// A boxed error (what the tokenizers crate returns).
impl From<Box<dyn Error + Send + Sync + 'static>> for Cause {
    fn from(e: Box<dyn Error + Send + Sync + 'static>) -> Self {
        Cause(Arc::from(e))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// A message, and the error it was made from when there is one. Stands where error
/// types held a `String`: it reads as that string (`Deref<Target = str>`, `Display`
/// and `Debug` are the text's), so messages, tests and matches on them are unchanged,
/// and `From<String>`/`From<&str>` make one from a message of our own (a validation
/// message has no cause).
#[derive(Clone)]
pub struct Detail {
    text: String,
    cause: Option<Cause>,
}

impl Detail {
    /// The error's own text, keeping the error as the source.
    pub fn of(e: impl Error + Send + Sync + 'static) -> Self {
        Detail {
            text: e.to_string(),
            cause: Some(Cause::new(e)),
        }
    }

    /// A text that says more than the error (`format!("zip: {e}")`), keeping the error.
    pub fn with(text: impl Into<String>, e: impl Error + Send + Sync + 'static) -> Self {
        Detail {
            text: text.into(),
            cause: Some(Cause::new(e)),
        }
    }

    /// The same cause, with `prefix` before the text (`"redis_url: "`).
    pub(crate) fn prefixed(self, prefix: &str) -> Self {
        Detail {
            text: format!("{prefix}{}", self.text),
            cause: self.cause,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn cause(&self) -> Option<&Cause> {
        self.cause.as_ref()
    }
}

impl From<String> for Detail {
    fn from(text: String) -> Self {
        Detail { text, cause: None }
    }
}

impl From<&str> for Detail {
    fn from(text: &str) -> Self {
        Detail::from(text.to_string())
    }
}

impl std::ops::Deref for Detail {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.text, f)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl Error for Detail {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_ref().map(|c| c as &(dyn Error + 'static))
    }
}

/// The lines that show `err` with what caused it: its message, then one
/// `caused by: …` per error in its `source()` chain whose text the lines so far do not
/// already say (this crate's messages include their cause's text; see the module doc).
pub fn chain(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut lines = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !lines.iter().any(|l| l.contains(&text)) {
            lines.push(text);
        }
        next = e.source();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{file}: {message}")]
    struct FileError {
        file: String,
        #[source]
        message: Detail,
    }

    fn io() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
    }

    #[test]
    fn a_detail_reads_as_its_text_and_keeps_its_cause() {
        let d = Detail::of(io());
        assert_eq!(&*d, "no such file");
        assert_eq!(format!("{d:?}"), "\"no such file\"");
        assert!(d.source().is_some());
        let plain = Detail::from("a message of ours");
        assert!(plain.source().is_none());
        assert!(plain.contains("ours"));
    }

    #[test]
    fn the_chain_skips_what_the_message_already_says() {
        let e = FileError {
            file: "a.toml".into(),
            message: Detail::of(io()),
        };
        assert_eq!(e.to_string(), "a.toml: no such file");
        assert_eq!(chain(&e), vec!["a.toml: no such file".to_string()]);
        let e = FileError {
            file: "a.toml".into(),
            message: Detail::with("cannot read it", io()),
        };
        assert_eq!(chain(&e), vec!["a.toml: cannot read it", "no such file"]);
    }
}
