//! Inference: load a model from a snapshot folder, run it on its own thread, stream events back.
//!
//! - [`device`]: CUDA → Metal → CPU selection (`--device`).
//! - [`registry`]: Hub metadata (pipeline tag, config.json, library, files) → a [`Plan`], or
//!   "not supported yet: <architecture> for <task>".
//! - [`pipeline`]: the [`Pipeline`] trait, [`CancelToken`], [`Event`]s and [`RunContext`].
//! - [`worker`]: [`InferenceWorker`], a thread that owns one loaded pipeline; front ends send it
//!   requests and poll its event channel, so they never wait on inference.
//! - One file per task: [`text_generation`] (GGUF and safetensors causal LMs),
//!   [`feature_extraction`] (sentence embeddings and similarity), [`image_classification`]
//!   (ViT, ConvNeXt, ResNet), [`zero_shot_image`] (CLIP, SigLIP), [`image_to_text`] (BLIP
//!   captions, on [`blip`]'s loader for candle-transformers' model).
//! - Models written here for transformers' weight names: [`distilbert`], [`convnext`], [`resnet`];
//!   and for GGUF: [`gguf_llama`] (quantised embedding, memory near the file's size) and
//!   [`gguf_gemma3`], on the shared [`gguf_blocks`] (rotary, masks, KV cache) and
//!   [`q4_1_matmul`] (AVX2 Q4_1 products).
//! - [`speech_recognition`] (Whisper ASR) on [`whisper`] (the model) and [`whisper_mel`] (the
//!   log-mel front end).
//! - Helpers: [`chat_template`] (minijinja), [`gguf_tokenizer`] (a tokenizer from GGUF metadata),
//!   [`causal`] (the candle model zoo behind one enum), [`sentencepiece`] (SentencePiece models
//!   read with [`protobuf`]) and [`marian_tokenizer`] for [`marian`] translation in [`seq2seq`].

pub mod blip;
pub mod causal;
pub mod chat_template;
pub mod convnext;
pub mod device;
pub mod distilbert;
pub mod encoder;
pub mod encoder_heads;
pub mod entities;
pub mod feature_extraction;
pub mod gguf_blocks;
pub mod gguf_bpe;
pub mod gguf_gemma3;
pub mod gguf_llama;
pub mod gguf_tokenizer;
pub mod image_classification;
pub mod image_to_text;
pub mod marian;
pub mod marian_tokenizer;
pub mod pipeline;
pub mod protobuf;
pub mod q4_1_matmul;
pub mod registry;
pub mod resnet;
pub mod sentencepiece;
pub mod seq2seq;
pub mod speech_recognition;
pub mod text_classification;
pub mod text_generation;
pub mod text_tokenizer;
pub mod whisper;
pub mod whisper_mel;
pub mod worker;
pub mod zero_shot_image;

use std::path::PathBuf;

pub use candle_core::Device;
pub use device::DeviceRequest;
pub use feature_extraction::{Embedder, EmbeddingOutput, EmbeddingRequest, Pooling};
pub use image_classification::{ImageClassifier, ImageLabels, ImageRequest};
pub use image_to_text::{CaptionOutput, CaptionRequest, Captioner};
pub use pipeline::{CancelToken, Event, Output, Pipeline, Request, RunContext, Waker};
pub use registry::{ModelFacts, Plan, Task, plan};
pub use seq2seq::{Seq2Seq, Seq2SeqOutput, Seq2SeqRequest};
pub use speech_recognition::{Segment, SpeechRecognizer, SpeechRequest, SpeechTask, Transcript};
pub use text_classification::{EncoderPipeline, Results, TextsRequest};
pub use text_generation::{
    ChatMessage, GenerationOutput, GenerationParams, GenerationRequest, Prompt, StopReason,
    TextGenerator,
};
pub use worker::InferenceWorker;
pub use zero_shot_image::ZeroShotImage;

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

/// `dir/tokenizer.json`, or a "missing file" error naming it.
pub(crate) fn read_tokenizer(dir: &std::path::Path) -> Result<tokenizers::Tokenizer, InferError> {
    let path = dir.join("tokenizer.json");
    if !path.is_file() {
        return Err(InferError::MissingFile {
            what: "tokenizer.json".into(),
            dir: dir.to_path_buf(),
        });
    }
    tokenizers::Tokenizer::from_file(&path).map_err(|e| InferError::file(&path, e))
}
