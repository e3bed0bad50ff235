//! Model links waiting for the UI thread: the one the app was started with and those later
//! launches hand over ([`crate::ui::runtime::instance`]). Pushing wakes the window.

use std::sync::{Arc, Mutex, PoisonError};

use eframe::egui;

use crate::link::ModelLink;

/// A shared queue of links; clones share it.
#[derive(Clone, Default)]
pub struct Inbox {
    inner: Arc<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    links: Vec<ModelLink>,
    ctx: Option<egui::Context>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Inbox")
            .field("links", &queue.links)
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// An inbox holding `link` (the one the app was started with), if any.
    pub fn with(link: Option<ModelLink>) -> Inbox {
        let inbox = Inbox::default();
        if let Some(link) = link {
            inbox.push(link);
        }
        inbox
    }

    /// Queues a link and, once the window exists, asks it to repaint (any thread).
    pub fn push(&self, link: ModelLink) {
        let mut queue = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        queue.links.push(link);
        if let Some(ctx) = &queue.ctx {
            ctx.request_repaint();
        }
    }

    /// The context to wake when a link arrives.
    pub fn attach(&self, ctx: &egui::Context) {
        let mut queue = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        queue.ctx = Some(ctx.clone());
    }

    /// Takes the links queued so far, oldest first.
    pub fn take(&self) -> Vec<ModelLink> {
        let mut queue = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut queue.links)
    }
}
