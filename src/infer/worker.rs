//! The inference thread: owns one loaded pipeline, takes [`Request`]s from a channel and sends
//! [`Event`]s back, so a front end (the Try tab, `hubble run`) never blocks on a model.
//!
//! ```text
//!  front end ── Request ──▶ [ inference thread: load(plan) → run → run … ]
//!      ▲                              │
//!      └──── Event (Status, Loaded, Token…, Finished | Failed) ◀──┘
//!  CancelToken (shared AtomicBool): the stop button, checked between tokens / batches
//! ```

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::feature_extraction::Embedder;
use super::image_classification::ImageClassifier;
use super::image_to_text::Captioner;
use super::pipeline::{CancelToken, Event, Output, Pipeline, Request, RunContext, Waker};
use super::registry::{Plan, Task};
use super::seq2seq::Seq2Seq;
use super::speech_recognition::SpeechRecognizer;
use super::text_classification::EncoderPipeline;
use super::text_generation::TextGenerator;
use super::zero_shot_image::ZeroShotImage;
use super::{DeviceRequest, InferError, device};

/// A running inference thread with one model.
pub struct InferenceWorker {
    requests: Option<Sender<Request>>,
    events: Receiver<Event>,
    cancel: CancelToken,
    thread: Option<JoinHandle<()>>,
}

enum Loaded {
    Text(Box<TextGenerator>),
    Embed(Box<Embedder>),
    Encoder(Box<EncoderPipeline>),
    Seq2Seq(Box<Seq2Seq>),
    ImageClassifier(Box<ImageClassifier>),
    ZeroShotImage(Box<ZeroShotImage>),
    Speech(Box<SpeechRecognizer>),
    Caption(Box<Captioner>),
}

impl InferenceWorker {
    /// Starts a thread that loads `plan` from `dir` on `device`, then serves requests. The first
    /// events are `Status`es, then `Loaded(description)` or `Failed(message)`.
    pub fn spawn(dir: PathBuf, plan: Plan, device: DeviceRequest) -> InferenceWorker {
        InferenceWorker::spawn_with_waker(dir, plan, device, None)
    }

    /// Like [`InferenceWorker::spawn`], calling `waker` after every event it sends (the app
    /// passes `request_repaint`, so it never polls while idle).
    pub fn spawn_with_waker(
        dir: PathBuf,
        plan: Plan,
        device: DeviceRequest,
        waker: Option<Waker>,
    ) -> InferenceWorker {
        let (request_tx, request_rx) = mpsc::channel::<Request>();
        let (event_tx, event_rx) = mpsc::channel::<Event>();
        let cancel = CancelToken::new();
        let thread_cancel = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("hubble-inference".into())
            .spawn(move || {
                let ctx = RunContext::new(thread_cancel, Some(event_tx)).with_waker(waker);
                serve(dir, plan, device, request_rx, ctx)
            })
            .ok();
        InferenceWorker {
            requests: Some(request_tx),
            events: event_rx,
            cancel,
            thread,
        }
    }

    /// Queues a request; its events follow the ones already queued.
    pub fn submit(&self, request: Request) -> Result<(), InferError> {
        self.cancel.reset();
        self.requests
            .as_ref()
            .ok_or(InferError::WorkerGone)?
            .send(request)
            .map_err(|_| InferError::WorkerGone)
    }

    /// Asks the running job to stop (generation returns what it has, marked `cancelled`).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The shared cancel flag.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// The next event if one is waiting (for a UI frame loop).
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits up to `timeout` for the next event; `Err(WorkerGone)` when the thread has ended.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, InferError> {
        match self.events.recv_timeout(timeout) {
            Ok(event) => Ok(Some(event)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(InferError::WorkerGone),
        }
    }

    /// Waits for the next event; `None` when the thread has ended.
    pub fn recv(&self) -> Option<Event> {
        self.events.recv().ok()
    }
}

impl Drop for InferenceWorker {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    dir: PathBuf,
    plan: Plan,
    device: DeviceRequest,
    requests: Receiver<Request>,
    ctx: RunContext,
) {
    let loaded = device::select(device).and_then(|device| {
        ctx.emit(Event::Status(format!(
            "loading {} on {}",
            plan.task,
            device::describe(&device)
        )));
        match plan.task {
            Task::TextGeneration => {
                TextGenerator::load(&dir, &plan, &device, &ctx).map(|p| Loaded::Text(Box::new(p)))
            }
            Task::FeatureExtraction | Task::SentenceSimilarity => {
                Embedder::load(&dir, &plan, &device, &ctx).map(|p| Loaded::Embed(Box::new(p)))
            }
            Task::TextClassification | Task::TokenClassification | Task::FillMask => {
                EncoderPipeline::load(&dir, &plan, &device, &ctx)
                    .map(|p| Loaded::Encoder(Box::new(p)))
            }
            Task::Translation | Task::Summarization => {
                Seq2Seq::load(&dir, &plan, &device, &ctx).map(|p| Loaded::Seq2Seq(Box::new(p)))
            }
            Task::ImageClassification => ImageClassifier::load(&dir, &plan, &device, &ctx)
                .map(|p| Loaded::ImageClassifier(Box::new(p))),
            Task::ZeroShotImageClassification => ZeroShotImage::load(&dir, &plan, &device, &ctx)
                .map(|p| Loaded::ZeroShotImage(Box::new(p))),
            Task::AutomaticSpeechRecognition => SpeechRecognizer::load(&dir, &plan, &device, &ctx)
                .map(|p| Loaded::Speech(Box::new(p))),
            Task::ImageToText => {
                Captioner::load(&dir, &plan, &device, &ctx).map(|p| Loaded::Caption(Box::new(p)))
            }
        }
    });
    let mut loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            ctx.emit(Event::Failed(e.to_string()));
            return;
        }
    };
    release_free_memory();
    ctx.emit(Event::Loaded(match &loaded {
        Loaded::Text(p) => p.describe(),
        Loaded::Embed(p) => p.describe(),
        Loaded::Encoder(p) => p.describe(),
        Loaded::Seq2Seq(p) => p.describe(),
        Loaded::ImageClassifier(p) => p.describe(),
        Loaded::ZeroShotImage(p) => p.describe(),
        Loaded::Speech(p) => p.describe(),
        Loaded::Caption(p) => p.describe(),
    }));
    for request in requests {
        let result = match (&mut loaded, request) {
            (Loaded::Text(p), Request::Generate(r)) => p.run(r, &ctx).map(Output::TextGeneration),
            (Loaded::Embed(p), Request::Embed(r)) => p.run(r, &ctx).map(Output::FeatureExtraction),
            (Loaded::Encoder(p), Request::Texts(r)) => p.run(r, &ctx),
            (Loaded::Seq2Seq(p), Request::Seq2Seq(r)) => p.run(r, &ctx).map(|out| {
                if plan.task == Task::Summarization {
                    Output::Summarization(out)
                } else {
                    Output::Translation(out)
                }
            }),
            (Loaded::ImageClassifier(p), Request::Image(r)) => p.run(r, &ctx),
            (Loaded::ZeroShotImage(p), Request::Image(r)) => p.run(r, &ctx),
            (Loaded::Speech(p), Request::Transcribe(r)) => {
                p.run(r, &ctx).map(Output::AutomaticSpeechRecognition)
            }
            (Loaded::Caption(p), Request::Caption(r)) => p.run(r, &ctx).map(Output::ImageToText),
            (_, other) => Err(InferError::InvalidInput(format!(
                "this model was loaded for {}, not for {}",
                plan.task,
                match other {
                    Request::Generate(_) => "text generation",
                    Request::Embed(_) => "embeddings",
                    Request::Texts(_) => "text classification or fill-mask",
                    Request::Seq2Seq(_) => "translation or summarisation",
                    Request::Image(_) => "image classification",
                    Request::Transcribe(_) => "speech recognition",
                    Request::Caption(_) => "image captioning",
                }
            ))),
        };
        ctx.emit(match result {
            Ok(output) => Event::Finished(output),
            Err(e) => Event::Failed(e.to_string()),
        });
    }
}

/// Hands the allocator's free pages back to the operating system: loading leaves the freed
/// scratch of reading a checkpoint (raw tensor bytes, header metadata, conversions) between the
/// weights, where it would otherwise stay resident for the model's whole life. glibc only (its
/// `malloc_trim`); elsewhere nothing to do.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused pages; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
