//! The model page's Remote tab: chat with the model on the Hub's inference router (its
//! OpenAI-compatible API, streamed), for models that don't fit or aren't supported locally.
//! Clearly labelled remote: the prompt and the user's token leave this machine.

use std::sync::mpsc::{Receiver, channel};

use eframe::egui::{self, RichText};

use crate::config::HubConfig;
use crate::hub::{HubError, RepoId};
use crate::remote::{ChatMessage, ChatReply, ChatRequest};
use crate::ui::runtime::worker::Worker;

/// What the request task sends back.
enum RemoteEvent {
    Token(String),
    Done(Result<ChatReply, HubError>),
}

/// A request in flight.
struct Running {
    events: Receiver<RemoteEvent>,
    task: tokio::task::AbortHandle,
}

/// The Remote tab's state: the conversation and the request in flight.
pub struct RemoteChatView {
    repo: RepoId,
    draft: String,
    messages: Vec<ChatMessage>,
    running: Option<Running>,
    error: Option<String>,
}

impl RemoteChatView {
    /// An empty conversation with `repo`.
    pub fn new(repo: RepoId) -> RemoteChatView {
        RemoteChatView {
            repo,
            draft: String::new(),
            messages: Vec::new(),
            running: None,
            error: None,
        }
    }

    /// Shows the tab, taking in the tokens that arrived.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &Worker) {
        self.drain();
        notice(ui, worker.config(), &worker.config().router_endpoint);
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 80.0)
            .auto_shrink([false, true])
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for message in &self.messages {
                    let who = if message.role == "user" {
                        "You"
                    } else {
                        "Remote model"
                    };
                    ui.label(RichText::new(who).strong().small());
                    ui.label(&message.content);
                    ui.add_space(4.0);
                }
            });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.horizontal(|ui| {
            let label = ui.label("Remote message");
            let edit = egui::TextEdit::multiline(&mut self.draft)
                .desired_rows(2)
                .desired_width(ui.available_width() - 160.0);
            ui.add(edit).labelled_by(label.id);
            if self.running.is_some() {
                if ui.button("Stop remote").clicked() {
                    self.stop();
                }
            } else if ui
                .add_enabled(
                    !self.draft.trim().is_empty(),
                    egui::Button::new("Send remotely"),
                )
                .clicked()
            {
                self.send(ui.ctx(), worker);
            }
        });
    }

    fn send(&mut self, ctx: &egui::Context, worker: &Worker) {
        let client = match worker.client() {
            Ok(client) => client,
            Err(message) => {
                self.error = Some(message);
                return;
            }
        };
        self.messages.push(ChatMessage {
            role: "user".into(),
            content: std::mem::take(&mut self.draft).trim().to_owned(),
        });
        let request = ChatRequest {
            model: self.repo.to_string(),
            messages: self.messages.clone(),
            max_tokens: None,
            temperature: None,
        };
        self.messages.push(ChatMessage {
            role: "assistant".into(),
            content: String::new(),
        });
        self.error = None;
        let (sender, events) = channel();
        let ctx = ctx.clone();
        let pace = worker.stream_pace();
        let task = worker.handle().spawn(async move {
            let tokens = sender.clone();
            let wake = ctx.clone();
            let result = client
                .remote_chat(&request, move |piece| {
                    // The receiver goes away only when the page does.
                    let _ = tokens.send(RemoteEvent::Token(piece.to_owned()));
                    pace.wake(&wake);
                })
                .await;
            let _ = sender.send(RemoteEvent::Done(result));
            ctx.request_repaint();
        });
        self.running = Some(Running {
            events,
            task: task.abort_handle(),
        });
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }

    /// Appends streamed pieces to the answer; ends the request on its last event.
    fn drain(&mut self) {
        let Some(running) = &self.running else {
            return;
        };
        let mut done = None;
        for event in running.events.try_iter() {
            match event {
                RemoteEvent::Token(piece) => {
                    if let Some(last) = self.messages.last_mut() {
                        last.content.push_str(&piece);
                    }
                }
                RemoteEvent::Done(result) => done = Some(result),
            }
        }
        match done {
            Some(Ok(_)) => self.running = None,
            Some(Err(error)) => {
                self.error = Some(error.to_string());
                self.running = None;
            }
            None => {}
        }
    }
}

/// The warning every remote view starts with: where it runs, and whether the token goes along.
pub(super) fn notice(ui: &mut egui::Ui, config: &HubConfig, router: &str) {
    let token = if config.token.is_some() {
        "with your token"
    } else {
        "without a token (set one in Settings; the router usually requires it)"
    };
    ui.label(
        RichText::new(format!(
            "Remote inference: runs on {router} {token}, not on this machine."
        ))
        .color(ui.visuals().warn_fg_color),
    );
}

impl Drop for RemoteChatView {
    fn drop(&mut self) {
        self.stop();
    }
}
