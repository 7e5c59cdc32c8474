//! Everything that can stop an evaluation. A missed floor is not an error here: the
//! reports are still written, and the CLI turns the failed gate into a non-zero exit.

use crate::metrics::MetricError;
use std::path::PathBuf;
use triage_core::cause::Detail;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `message` is ours (validation), or the I/O or TOML error, then kept as the source.
    #[error("{}: {message}", .path.display())]
    Suite {
        path: PathBuf,
        #[source]
        message: Detail,
    },
    /// `message` is ours, or the error that stopped the task, then kept as the source.
    #[error("task {task:?}: {message}")]
    Task {
        task: String,
        #[source]
        message: Detail,
    },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Bundle(#[from] triage_core::model::BundleError),
    #[error(transparent)]
    Triage(#[from] triage_core::error::TriageError),
    #[error("training the {head} head: {source}")]
    Train {
        head: String,
        #[source]
        source: Box<crate::train::head_only::TrainError>,
    },
    #[error("task {task:?}: {source}")]
    Metric {
        task: String,
        #[source]
        source: MetricError,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EvalError {
    pub(crate) fn task(task: &str, message: impl Into<Detail>) -> Self {
        EvalError::Task {
            task: task.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn metric(task: &str) -> impl FnOnce(MetricError) -> Self + '_ {
        move |source| EvalError::Metric {
            task: task.to_string(),
            source,
        }
    }

    pub(crate) fn write(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| EvalError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
