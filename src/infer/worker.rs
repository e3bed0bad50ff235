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
use std::time::Duration;

use super::pipeline::{CancelToken, Event, Request, RunContext, Waker};
use super::plan::Plan;
use super::{DeviceRequest, InferError, device, registry};

/// A running inference thread with one model.
pub struct InferenceWorker {
    requests: Option<Sender<Request>>,
    events: Receiver<Event>,
    cancel: CancelToken,
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
        let spawned = std::thread::Builder::new()
            .name("hubble-inference".into())
            .spawn(move || {
                let ctx = RunContext::new(thread_cancel, Some(event_tx)).with_waker(waker);
                serve(dir, plan, device, request_rx, ctx)
            });
        // Without a thread the event channel is closed at once: `recv` says the worker is gone.
        drop(spawned);
        InferenceWorker {
            requests: Some(request_tx),
            events: event_rx,
            cancel,
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

    /// Takes no more requests: the thread finishes its job, drops the model and ends, after
    /// which [`InferenceWorker::recv_timeout`] answers `WorkerGone` (so a caller can wait for
    /// the model's memory to be given back before measuring the next one).
    pub fn close(&mut self) {
        self.requests.take();
    }

    /// Waits for the next event; `None` when the thread has ended.
    pub fn recv(&self) -> Option<Event> {
        self.events.recv().ok()
    }
}

impl Drop for InferenceWorker {
    /// Returns at once: the thread is told to stop (the cancel flag, checked between tokens,
    /// batches and a load's steps, and the closed request channel) and ends on its own,
    /// dropping the model there, so Cancel and Unload never wait on a load or a job.
    fn drop(&mut self) {
        self.cancel.cancel();
        self.requests.take();
    }
}

fn serve(
    dir: PathBuf,
    plan: Plan,
    device: DeviceRequest,
    requests: Receiver<Request>,
    ctx: RunContext,
) {
    let placed = device::place(&device);
    let (ctx, placed) = match placed {
        Ok(placement) => (ctx.with_gpu(placement.gpu.clone()), Ok(placement)),
        Err(e) => (ctx, Err(e)),
    };
    let loaded = placed.and_then(|placement| {
        if let Some(note) = &placement.note {
            ctx.emit(Event::Status(note.clone()));
        }
        ctx.emit(Event::Status(format!(
            "loading {} on {}",
            plan.task,
            placement.describe()
        )));
        ctx.loading(|| registry::load(&dir, &plan, &placement.candle, &ctx))
    });
    let mut pipeline = match loaded {
        // Cancelled while loading: nobody waits for this model any more.
        Ok(_) if ctx.is_cancelled() => return,
        Ok(pipeline) => pipeline,
        Err(e) => {
            ctx.emit(Event::Failed(e.to_string()));
            return;
        }
    };
    release_free_memory();
    if let Some(gpu) = ctx.gpu().filter(|gpu| gpu.memory_in_use() > 0) {
        ctx.emit(Event::GpuMemory {
            device: device::describe_gpu(gpu),
            bytes: gpu.memory_in_use(),
        });
    }
    ctx.emit(Event::Loaded(pipeline.describe()));
    for request in requests {
        ctx.emit(match pipeline.run(request, &ctx) {
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
