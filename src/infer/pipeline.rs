//! The shape every task shares: load from a folder → run typed input → typed output, with a
//! cancel flag and events (tokens, status) sent while it runs.

use std::any::Any;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use candle_core::Device;
use serde::Serialize;

use super::InferError;
use super::plan::Plan;
use crate::results::Segment;

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

thread_local! {
    /// The cancel flag of the load running on this thread ([`RunContext::loading`]).
    static LOAD_CANCEL: std::cell::RefCell<Option<CancelToken>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether the load running on this thread (inside [`RunContext::loading`]) was cancelled:
/// the weight readers ask before each tensor.
pub fn load_cancelled() -> bool {
    LOAD_CANCEL.with(|flag| {
        flag.borrow()
            .as_ref()
            .is_some_and(CancelToken::is_cancelled)
    })
}

/// What a running pipeline reports, in order: `Status`/`Loaded` while loading, then per job any
/// number of `Token`s and exactly one `Finished` or `Failed`.
#[derive(Debug)]
pub enum Event {
    /// A human status line ("loading weights", "tokenizing").
    Status(String),
    /// What a model just loaded holds on its GPU (wgpu buffers: weights, caches,
    /// activations), sent before `Loaded`.
    GpuMemory {
        /// The adapter ("wgpu:0 (NVIDIA …, Vulkan)").
        device: String,
        /// Bytes of its buffers.
        bytes: u64,
    },
    /// The model is loaded and ready for requests: a short description.
    Loaded(String),
    /// A piece of streamed text (text generation, captions), already decoded.
    Token(String),
    /// A finished piece of a transcript (speech recognition), streamed as it is decoded.
    Segment(Segment),
    /// Progress through a job of known length (text-to-image's denoising steps), with a
    /// picture of where it stands when the task has one.
    Progress {
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
        /// A small preview of the result so far.
        preview: Option<std::sync::Arc<image::RgbImage>>,
    },
    /// A job finished (also when cancelled: generation returns what it had).
    Finished(Output),
    /// A job (or the load) failed; the message says why.
    Failed(String),
}

/// A task's name: the Hub's pipeline tag (`text-generation`, `question-answering`, …). Each task
/// file declares its own as a constant; the registry knows them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Task(&'static str);

impl Task {
    /// The task with this pipeline tag.
    pub const fn new(tag: &'static str) -> Task {
        Task(tag)
    }

    /// The Hub's pipeline tag.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A typed request for whichever pipeline the worker holds (each task file defines its request
/// type; the worker carries it without knowing it).
pub struct Request {
    value: Box<dyn Any + Send>,
    type_name: &'static str,
}

impl Request {
    /// Wraps a task's typed request.
    pub fn new<T: Any + Send>(value: T) -> Request {
        Request {
            value: Box::new(value),
            type_name: std::any::type_name::<T>(),
        }
    }

    /// The typed request, or an error saying the model was loaded for another task.
    pub fn take<T: Any>(self, task: Task) -> Result<T, InferError> {
        match self.value.downcast::<T>() {
            Ok(value) => Ok(*value),
            Err(_) => Err(InferError::InvalidInput(format!(
                "this model was loaded for {task}, which can't take a {}",
                short_type_name(self.type_name)
            ))),
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Request({})", short_type_name(self.type_name))
    }
}

fn short_type_name(name: &'static str) -> &'static str {
    name.rsplit("::").next().unwrap_or(name)
}

/// How a task's result reads on a terminal (`hubble run` without `--json`): `out` gets the
/// result, `log` the statistics line. Streamed tokens were already printed.
pub trait HumanOutput {
    /// Writes the result for a person.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()>;
}

/// What every task result is: JSON (`--json`), text for a person, and its own type for the views.
pub trait TaskOutput: Any + Send + fmt::Debug {
    /// `{"task": "<tag>", …fields}` (fields in their declared order).
    fn to_json(&self, task: Task, pretty: bool) -> serde_json::Result<String>;
    /// See [`HumanOutput`].
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()>;
    /// The value, for a downcast.
    fn as_any(&self) -> &dyn Any;
    /// The value, for a downcast by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    task: Task,
    #[serde(flatten)]
    value: &'a T,
}

impl<T: Serialize + HumanOutput + Any + Send + fmt::Debug> TaskOutput for T {
    fn to_json(&self, task: Task, pretty: bool) -> serde_json::Result<String> {
        let tagged = Tagged { task, value: self };
        if pretty {
            serde_json::to_string_pretty(&tagged)
        } else {
            serde_json::to_string(&tagged)
        }
    }

    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        HumanOutput::write_human(self, out, log)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A finished job's result: which task made it and the task's typed value.
#[derive(Debug)]
pub struct Output {
    task: Task,
    value: Box<dyn TaskOutput>,
}

impl Output {
    /// Wraps a task's typed result.
    pub fn new(task: Task, value: impl TaskOutput) -> Output {
        Output {
            task,
            value: Box::new(value),
        }
    }

    /// The task that made it.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The typed result, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.value.as_any().downcast_ref::<T>()
    }

    /// The typed result by value, or the output back when it is not a `T`.
    pub fn take<T: Any>(self) -> Result<T, Output> {
        if self.get::<T>().is_none() {
            return Err(self);
        }
        Ok(*self
            .value
            .into_any()
            .downcast::<T>()
            .expect("checked just above"))
    }

    /// `{"task": "<tag>", …}`.
    pub fn to_json(&self, pretty: bool) -> serde_json::Result<String> {
        self.value.to_json(self.task, pretty)
    }

    /// See [`HumanOutput`].
    pub fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        self.value.write_human(out, log)
    }
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

    /// Calls the function.
    pub fn wake(&self) {
        (self.0)();
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
    gpu: Option<std::sync::Arc<hubble_gpu::Gpu>>,
}

impl RunContext {
    /// A context with a cancel token and an optional event channel.
    pub fn new(cancel: CancelToken, events: Option<Sender<Event>>) -> RunContext {
        RunContext {
            cancel,
            events,
            waker: None,
            gpu: None,
        }
    }

    /// The same context, offering `gpu` (the wgpu device the user or `auto` picked) to the
    /// pipelines that compute on it.
    pub fn with_gpu(self, gpu: Option<std::sync::Arc<hubble_gpu::Gpu>>) -> RunContext {
        RunContext { gpu, ..self }
    }

    /// The wgpu device picked for this load, if any: pipelines with a wgpu path load onto it,
    /// the others run on the candle device they are given (the CPU) and say so.
    pub fn gpu(&self) -> Option<&std::sync::Arc<hubble_gpu::Gpu>> {
        self.gpu.as_ref()
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

    /// Runs a load with this context's cancel flag visible to the weight readers on this
    /// thread ([`load_cancelled`]), so a load cancelled meanwhile stops at its next tensor.
    pub fn loading<T>(&self, load: impl FnOnce() -> T) -> T {
        LOAD_CANCEL.with(|flag| *flag.borrow_mut() = Some(self.cancel.clone()));
        let result = load();
        LOAD_CANCEL.with(|flag| *flag.borrow_mut() = None);
        result
    }

    /// Sends an event; a closed channel is ignored (the front end went away).
    pub fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(event);
            if let Some(waker) = &self.waker {
                waker.wake();
            }
        }
    }
}

/// One task's pipeline, typed: loaded once, run many times. Task files implement it; the worker
/// holds it as a [`LoadedPipeline`] (see [`erase`]).
pub trait Pipeline: Sized + Send {
    /// The typed input of one run.
    type Input: Any;
    /// The typed output of one run.
    type Output: IntoOutput;

    /// Loads the model described by `plan` from `dir` (a snapshot folder) onto `device`.
    fn load(dir: &Path, plan: &Plan, device: &Device, ctx: &RunContext)
    -> Result<Self, InferError>;

    /// Runs one input; checks `ctx` for cancellation and streams events through it.
    fn run(&mut self, input: Self::Input, ctx: &RunContext) -> Result<Self::Output, InferError>;

    /// A one-line description of what was loaded (architecture, format, device).
    fn describe(&self) -> String;
}

/// A typed result, or an [`Output`] already (pipelines that serve several tasks).
pub trait IntoOutput {
    /// The output of `task`.
    fn into_output(self, task: Task) -> Output;
}

impl<T: TaskOutput> IntoOutput for T {
    fn into_output(self, task: Task) -> Output {
        Output::new(task, self)
    }
}

impl IntoOutput for Output {
    fn into_output(self, _task: Task) -> Output {
        self
    }
}

/// A loaded pipeline as the worker holds it: requests and outputs type-erased.
pub trait LoadedPipeline: Send {
    /// Runs one request (an error when it is not this task's request type).
    fn run(&mut self, request: Request, ctx: &RunContext) -> Result<Output, InferError>;
    /// See [`Pipeline::describe`].
    fn describe(&self) -> String;
}

struct Erased<P> {
    pipeline: P,
    task: Task,
}

impl<P: Pipeline> LoadedPipeline for Erased<P> {
    fn run(&mut self, request: Request, ctx: &RunContext) -> Result<Output, InferError> {
        let input = request.take::<P::Input>(self.task)?;
        Ok(self.pipeline.run(input, ctx)?.into_output(self.task))
    }

    fn describe(&self) -> String {
        self.pipeline.describe()
    }
}

/// Loads `P` for `plan` and boxes it for the worker.
pub fn erase<P: Pipeline + 'static>(
    dir: &Path,
    plan: &Plan,
    device: &Device,
    ctx: &RunContext,
) -> Result<Box<dyn LoadedPipeline>, InferError> {
    let pipeline = P::load(dir, plan, device, ctx)?;
    Ok(Box::new(Erased {
        pipeline,
        task: plan.task,
    }))
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
