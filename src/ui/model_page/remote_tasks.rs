//! The model page's Remote tab for classifiers and speech recognizers: the task matching the
//! model's pipeline tag, run by the router's HF-inference provider
//! ([`crate::remote::tasks`]): a text box for text classification, an image or audio file
//! (dropped, opened or pasted, through [`FileInput`]) for the others; labels come back as the
//! Try tab's bars, speech as a transcript. Clearly labelled remote: the input and the user's
//! token leave this machine. The request (and reading the file) runs on the worker runtime.

use std::sync::mpsc::{Receiver, channel};

use eframe::egui::{self, ColorImage, RichText};

use crate::hub::{HubError, RepoId};
use crate::media::transcript::{clock, span};
use crate::remote::tasks::{hf_inference_base, media_type, read_input_file};
use crate::remote::{RemoteInput, RemoteOutput, RemoteTask};
use crate::ui::model_page::remote_chat::notice;
use crate::ui::runtime::tasks::task_label;
use crate::ui::runtime::worker::Worker;
use crate::ui::r#try::file_input::{Accept, FileInput, Picked, pasted_rgba};
use crate::ui::widgets::label_bars;

/// A request in flight.
struct Running {
    result: Receiver<Result<RemoteOutput, String>>,
    task: tokio::task::AbortHandle,
}

/// The tab's state for one model.
pub struct RemoteTaskView {
    repo: RepoId,
    text: String,
    /// The file input, made for the task first shown.
    input: Option<(RemoteTask, FileInput)>,
    picked: Option<Picked>,
    running: Option<Running>,
    result: Option<RemoteOutput>,
    error: Option<String>,
}

impl RemoteTaskView {
    /// Nothing picked or run yet for `repo`.
    pub fn new(repo: RepoId) -> RemoteTaskView {
        RemoteTaskView {
            repo,
            text: "I love this movie, it was wonderful!".into(),
            input: None,
            picked: None,
            running: None,
            result: None,
            error: None,
        }
    }

    /// Shows the tab for `task`, taking in a finished request.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &Worker, task: RemoteTask) {
        self.poll();
        let router = hf_inference_base(&worker.config().router_endpoint);
        notice(ui, worker.config(), &router);
        ui.label(RichText::new(format!("{} (remote)", task_label(task.pipeline_tag()))).strong());
        let ready = if task.takes_text() {
            let label = ui.label("Remote text");
            ui.add(
                egui::TextEdit::multiline(&mut self.text)
                    .desired_rows(3)
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(label.id);
            !self.text.trim().is_empty()
        } else {
            self.file(ui, task);
            self.picked.is_some()
        };
        ui.horizontal(|ui| {
            if self.running.is_some() {
                ui.spinner();
                if ui.button("Stop remote").clicked() {
                    self.stop();
                }
            } else if ui
                .add_enabled(ready, egui::Button::new("Run remotely"))
                .clicked()
            {
                self.run(ui.ctx(), worker, task);
            }
        });
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        match &self.result {
            Some(RemoteOutput::Labels { labels }) => {
                ui.label(RichText::new("Remote answer").small().weak());
                label_bars(ui, labels);
            }
            Some(RemoteOutput::Transcript(transcript)) => {
                ui.label(RichText::new("Remote transcript").small().weak());
                ui.label(transcript.text.trim());
                for chunk in &transcript.chunks {
                    let times = match (chunk.start, chunk.end) {
                        (Some(start), Some(end)) => span(start, end),
                        (Some(start), None) => clock(start),
                        _ => String::new(),
                    };
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(times).monospace().weak());
                        ui.label(chunk.text.trim());
                    });
                }
            }
            None => {}
        }
    }

    /// The file input: drop, Open… or paste; the picked file's name.
    fn file(&mut self, ui: &mut egui::Ui, task: RemoteTask) {
        let accept = if task == RemoteTask::ImageClassification {
            Accept::IMAGES
        } else {
            Accept::AUDIO
        };
        if self.input.as_ref().is_none_or(|(t, _)| *t != task) {
            self.input = Some((task, FileInput::new(accept)));
            self.picked = None;
        }
        let Some((_, input)) = &mut self.input else {
            return;
        };
        let area = ui.max_rect();
        let mut picked = input.drop_zone(ui, area);
        ui.horizontal(|ui| {
            if let Some(p) = input.open_button(ui) {
                picked = Some(p);
            }
            ui.label(RichText::new(format!("or drop {} anywhere here", accept.what)).weak());
        });
        input.show_refusal(ui);
        match picked {
            Some(Picked::Pasted(_)) if task != RemoteTask::ImageClassification => {
                self.error = Some("A pasted image is not audio: open an audio file.".into());
            }
            Some(p) => {
                self.picked = Some(p);
                self.result = None;
                self.error = None;
            }
            None => {}
        }
        let name = match &self.picked {
            Some(Picked::File(path)) => path.display().to_string(),
            Some(Picked::Bytes { name, .. }) => name.clone(),
            Some(Picked::Pasted(image)) => {
                format!("pasted image, {} × {}", image.size[0], image.size[1])
            }
            None => "nothing picked yet".into(),
        };
        ui.label(format!("Remote input: {name}"));
    }

    fn run(&mut self, ctx: &egui::Context, worker: &Worker, task: RemoteTask) {
        let client = match worker.client() {
            Ok(client) => client,
            Err(message) => {
                self.error = Some(message);
                return;
            }
        };
        let source = if task.takes_text() {
            Source::Text(self.text.trim().to_owned())
        } else {
            match self.picked.clone() {
                Some(picked) => Source::Picked(picked),
                None => return,
            }
        };
        self.error = None;
        self.result = None;
        let repo = self.repo.clone();
        let (sender, result) = channel();
        let ctx = ctx.clone();
        let handle = worker.handle().spawn(async move {
            let outcome = async {
                let input = source.into_input(task).await?;
                client.remote_task(&repo, task, input).await
            }
            .await
            .map_err(|e| e.to_string());
            // The receiver goes away only when the page does.
            let _ = sender.send(outcome);
            ctx.request_repaint();
        });
        self.running = Some(Running {
            result,
            task: handle.abort_handle(),
        });
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }

    fn poll(&mut self) {
        let Some(running) = &self.running else {
            return;
        };
        if let Ok(outcome) = running.result.try_recv() {
            self.running = None;
            match outcome {
                Ok(output) => self.result = Some(output),
                Err(error) => self.error = Some(error),
            }
        }
    }
}

impl Drop for RemoteTaskView {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The input as the user gave it, turned into a request on the worker runtime.
enum Source {
    Text(String),
    Picked(Picked),
}

impl Source {
    async fn into_input(self, task: RemoteTask) -> Result<RemoteInput, HubError> {
        let (name, bytes) = match self {
            Source::Text(text) => return Ok(RemoteInput::Text(text)),
            Source::Picked(Picked::File(path)) => return read_input_file(task, &path).await,
            Source::Picked(Picked::Bytes { name, bytes }) => (name, bytes.to_vec()),
            Source::Picked(Picked::Pasted(image)) => ("pasted.png".to_owned(), png(&image)?),
        };
        let content_type = media_type(task, &name, &bytes)?;
        Ok(RemoteInput::File {
            bytes,
            content_type,
        })
    }
}

/// A pasted image as PNG bytes.
fn png(image: &ColorImage) -> Result<Vec<u8>, HubError> {
    let rgba = pasted_rgba(image).map_err(HubError::InvalidInput)?;
    let mut out = Vec::new();
    rgba.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|_| HubError::InvalidInput("the pasted image could not be encoded".into()))?;
    Ok(out)
}
