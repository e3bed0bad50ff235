//! The shape every task shares: load from a folder → run typed input → typed output, with a
//! cancel flag and events (tokens, status) sent while it runs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use candle_core::Device;

use super::InferError;
use super::feature_extraction::{EmbeddingOutput, EmbeddingRequest};
use super::image_classification::{ImageLabels, ImageRequest};
use super::image_to_text::{CaptionOutput, CaptionRequest};
use super::registry::Plan;
use super::seq2seq::{Seq2SeqOutput, Seq2SeqRequest};
use super::speech_recognition::{Segment, SpeechRequest, Transcript};
use super::text_classification::{Results, TextEntities, TextFills, TextLabels, TextsRequest};
use super::text_generation::{GenerationOutput, GenerationRequest};

/// A cancel flag shared between the front end and the inference thread (the stop button).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, not-cancelled token.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the running job to stop at its next check (between tokens / batches).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called since the last reset.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Clears the flag (the worker does this before each job).
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What a running pipeline reports, in order: `Status`/`Loaded` while loading, then per job any
/// number of `Token`s and exactly one `Finished` or `Failed`.
#[derive(Debug, Clone)]
pub enum Event {
    /// A human status line ("loading weights", "tokenizing").
    Status(String),
    /// The model is loaded and ready for requests: a short description.
    Loaded(String),
    /// A piece of streamed text (text generation, captions), already decoded.
    Token(String),
    /// A finished piece of a transcript (speech recognition), streamed as it is decoded.
    Segment(Segment),
    /// A job finished (also when cancelled: generation returns what it had).
    Finished(Output),
    /// A job (or the load) failed; the message says why.
    Failed(String),
}

/// A request for whichever pipeline the worker holds.
#[derive(Debug, Clone)]
pub enum Request {
    /// Text generation.
    Generate(GenerationRequest),
    /// Sentence embeddings (+ similarity matrix).
    Embed(EmbeddingRequest),
    /// Texts for text classification, token classification or fill-mask.
    Texts(TextsRequest),
    /// Translation or summarisation.
    Seq2Seq(Seq2SeqRequest),
    /// An image for image classification or zero-shot image classification.
    Image(ImageRequest),
    /// Audio for speech recognition.
    Transcribe(SpeechRequest),
    /// An image to caption (image-to-text).
    Caption(CaptionRequest),
}

/// A finished job's typed result.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "task", rename_all = "kebab-case")]
pub enum Output {
    /// Text generation.
    TextGeneration(GenerationOutput),
    /// Feature extraction / sentence similarity.
    FeatureExtraction(EmbeddingOutput),
    /// Text classification: labels per text.
    TextClassification(Results<TextLabels>),
    /// Token classification: labelled tokens and entities per text.
    TokenClassification(Results<TextEntities>),
    /// Fill-mask: candidates per mask per text.
    FillMask(Results<TextFills>),
    /// Translation.
    Translation(Seq2SeqOutput),
    /// Summarisation.
    Summarization(Seq2SeqOutput),
    /// Image classification: the top labels.
    ImageClassification(ImageLabels),
    /// Zero-shot image classification: the candidate labels, ranked.
    ZeroShotImageClassification(ImageLabels),
    /// Automatic speech recognition: the transcript with its segments.
    AutomaticSpeechRecognition(Transcript),
    /// Image-to-text: the caption.
    ImageToText(CaptionOutput),
}

/// Called after every event is sent, so a front end that sleeps between frames (the app)
/// wakes up to read it.
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn() + Send + Sync>);

impl Waker {
    /// Wraps the function to call after each event.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Waker {
        Waker(Arc::new(wake))
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

/// What a pipeline sees while it runs: the cancel flag and where to send events.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    cancel: CancelToken,
    events: Option<Sender<Event>>,
    waker: Option<Waker>,
}

impl RunContext {
    /// A context with a cancel token and an optional event channel.
    pub fn new(cancel: CancelToken, events: Option<Sender<Event>>) -> RunContext {
        RunContext {
            cancel,
            events,
            waker: None,
        }
    }

    /// The same context, also calling `waker` after each event.
    pub fn with_waker(self, waker: Option<Waker>) -> RunContext {
        RunContext { waker, ..self }
    }

    /// Whether the user asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The cancel token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Sends an event; a closed channel is ignored (the front end went away).
    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
            if let Some(waker) = &self.waker {
                (waker.0)();
            }
        }
    }
}

/// One task's pipeline: loaded once, run many times.
pub trait Pipeline: Sized + Send {
    /// The typed input of one run.
    type Input;
    /// The typed output of one run.
    type Output;

    /// Loads the model described by `plan` from `dir` (a snapshot folder) onto `device`.
    fn load(dir: &Path, plan: &Plan, device: &Device, ctx: &RunContext)
    -> Result<Self, InferError>;

    /// Runs one input; checks `ctx` for cancellation and streams events through it.
    fn run(&mut self, input: Self::Input, ctx: &RunContext) -> Result<Self::Output, InferError>;

    /// A one-line description of what was loaded (architecture, format, device).
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_token_is_shared_and_resettable() {
        let token = CancelToken::new();
        let other = token.clone();
        assert!(!other.is_cancelled());
        token.cancel();
        assert!(other.is_cancelled());
        other.reset();
        assert!(!token.is_cancelled());
    }

    #[test]
    fn events_go_to_the_channel_and_a_closed_channel_is_fine() {
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = RunContext::new(CancelToken::new(), Some(tx));
        ctx.emit(Event::Token("hi".into()));
        assert!(matches!(rx.recv().unwrap(), Event::Token(t) if t == "hi"));
        drop(rx);
        ctx.emit(Event::Status("nobody listens".into()));
        RunContext::default().emit(Event::Status("no channel".into()));
    }
}
