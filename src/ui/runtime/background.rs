//! The one way views run one-off blocking work (cache scans, deletes, the Try tab's lookup,
//! image decoding, file dialogs, audio devices and clips, the token file): a closure on the
//! worker runtime's blocking pool or a thread of its own, whose result the UI thread picks up
//! each frame without waiting ([`Background::poll`]). The UI is woken with `request_repaint` when the
//! result is ready. Hub requests go through the worker's `Job`s instead.

use std::sync::mpsc::{Receiver, TryRecvError, channel};

use eframe::egui;

/// Blocking work in flight; [`Background::poll`] hands its result over once.
pub struct Background<T> {
    receiver: Receiver<T>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `work` on `runtime`'s blocking pool and returns at once.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Background<T> {
        Background::start(ctx, work, |job| {
            runtime.spawn_blocking(job);
        })
    }

    /// Runs `work` on a thread of its own and returns at once (views that have no runtime at
    /// hand, and work that may block for long: dialogs, device lists).
    pub fn spawn_thread(
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Background<T> {
        Background::start(ctx, work, |job| {
            std::thread::spawn(job);
        })
    }

    fn start(
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
        run: impl FnOnce(Box<dyn FnOnce() + Send>),
    ) -> Background<T> {
        let (sender, receiver) = channel();
        let ctx = ctx.clone();
        run(Box::new(move || {
            // The receiver is gone only when the view no longer waits for it.
            let _ = sender.send(work());
            ctx.request_repaint();
        }));
        Background { receiver }
    }

    /// `None` while the work runs; then its result, or an error when it stopped without one
    /// (it panicked, or the runtime shut down).
    pub fn poll(&self) -> Option<Result<T, String>> {
        match self.receiver.try_recv() {
            Ok(value) => Some(Ok(value)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(
                "The background task stopped without an answer; try again.".to_string(),
            )),
        }
    }
}
