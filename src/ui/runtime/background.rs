//! One-off blocking work for views (cache scans, deletes, verification): a closure run with
//! `spawn_blocking` on the worker's runtime, whose result the UI thread picks up each frame
//! without waiting. The UI is woken with `request_repaint` when the result is ready.

use std::sync::mpsc::{Receiver, TryRecvError, channel};

use eframe::egui;

/// Blocking work in flight; [`Task::poll`] hands its result over once.
pub struct Task<T> {
    receiver: Receiver<T>,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `work` on `runtime`'s blocking pool and returns at once.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Task<T> {
        let (sender, receiver) = channel();
        let ctx = ctx.clone();
        runtime.spawn_blocking(move || {
            // The receiver is gone only when the view no longer waits for it.
            let _ = sender.send(work());
            ctx.request_repaint();
        });
        Task { receiver }
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
