//! Inference: load a model from a snapshot folder, run it on its own thread, stream events back.
//!
//! Four floors, each importing only from the floors below it (ARCHITECTURE.md draws them):
//! 4. [`registry`] (the one list of tasks) and [`worker`] (the inference thread holding a boxed
//!    [`LoadedPipeline`]);
//! 3. [`tasks`]: one file per task — its pipeline tags, planning, loading, typed request and
//!    response, `hubble run` arguments; [`tasks::common`] for what several share;
//! 2. [`models`] (one architecture per file) and [`tokenizers`];
//! 1. [`pipeline`] (the [`Pipeline`] traits, [`Task`], [`Request`], [`Output`], [`Event`],
//!    [`CancelToken`], [`RunContext`]), [`plan`], [`facts`], [`task_module`], [`run_input`],
//!    [`device`] and the errors here.

pub mod cached;
pub mod cpu_threads;
pub mod device;
pub mod facts;
pub mod models;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod run_input;
pub mod task_module;
pub mod tasks;
pub mod tokenizers;
pub mod worker;

use std::path::PathBuf;

pub use candle_core::Device;
pub use device::DeviceRequest;
pub use facts::ModelFacts;
pub use pipeline::{
    CancelToken, Event, HumanOutput, LoadedPipeline, Output, Pipeline, Request, RunContext, Task,
    Waker,
};
pub use plan::Plan;
pub use worker::InferenceWorker;

/// Everything that can go wrong loading or running a model; each message says what happened.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The model's architecture/format is not wired up for this task.
    #[error("not supported yet: {architecture} for {task}")]
    NotSupported {
        /// What the model is (config.json architecture, model_type or GGUF architecture).
        architecture: String,
        /// The task asked for.
        task: String,
    },
    /// Files the pipeline needs are not in the folder.
    #[error("missing {what} in {}", dir.display())]
    MissingFile {
        /// The file or kind of file.
        what: String,
        /// The folder searched.
        dir: PathBuf,
    },
    /// Bad input (empty prompt, bad option value, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// The device could not be opened.
    #[error("device: {0}")]
    Device(String),
    /// A file could not be read or parsed.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Tokenizer construction or encoding failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed to render (including `raise_exception` from the template).
    #[error("chat template: {0}")]
    Template(String),
    /// candle failed while loading or running the model.
    #[error("model: {0}")]
    Model(String),
    /// The run was cancelled before it produced anything.
    #[error("cancelled")]
    Cancelled,
    /// The inference thread is gone.
    #[error("the inference thread has stopped")]
    WorkerGone,
}

impl From<candle_core::Error> for InferError {
    fn from(e: candle_core::Error) -> InferError {
        InferError::Model(e.to_string())
    }
}

impl From<crate::media::preprocess::PreprocessError> for InferError {
    fn from(e: crate::media::preprocess::PreprocessError) -> InferError {
        use crate::media::preprocess::PreprocessError;
        match e {
            PreprocessError::MissingConfig(dir) => InferError::MissingFile {
                what: "preprocessor_config.json".into(),
                dir,
            },
            PreprocessError::BadConfig { path, message } => InferError::File { path, message },
            PreprocessError::Image(message) => InferError::InvalidInput(message),
        }
    }
}

impl InferError {
    /// A stable snake_case name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            InferError::NotSupported { .. } => "not_supported",
            InferError::MissingFile { .. } => "missing_file",
            InferError::InvalidInput(_) => "invalid_input",
            InferError::Device(_) => "device",
            InferError::File { .. } => "file",
            InferError::Tokenizer(_) => "tokenizer",
            InferError::Template(_) => "template",
            InferError::Model(_) => "model",
            InferError::Cancelled => "cancelled",
            InferError::WorkerGone => "worker_gone",
        }
    }

    pub(crate) fn file(path: &std::path::Path, message: impl std::fmt::Display) -> InferError {
        InferError::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &std::path::Path) -> Result<serde_json::Value, InferError> {
    let text = std::fs::read_to_string(path).map_err(|e| InferError::file(path, e))?;
    serde_json::from_str(&text).map_err(|e| InferError::file(path, e))
}
