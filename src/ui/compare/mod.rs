//! The Compare view (top bar, Ctrl+Shift+A; **Compare** on a model page and on the Cache
//! page): 2–4 cached chat models (or GGUF quants of one repo) answer one prompt in turn on a
//! [`Runner`] thread, streamed into columns side by side with what each cost; **Blind** shows
//! them as Model A, B, … in a shuffled order until a vote; **Export Markdown…** / **Export
//! JSON…**. The UI thread only draws and polls: the runner's waker repaints it.

mod columns;
mod entries;
mod other_input;

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use crate::compare::{Comparison, Job, Progress, RequestFn, RunResult, Runner, label};
use crate::hub::RepoId;
use crate::infer::tasks::text_generation::{
    ChatMessage, GenerationParams, GenerationRequest, Prompt, TEXT_GENERATION,
};
use crate::infer::{DeviceRequest, Request, Waker, registry};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::file_input::{poll_save, save_dialog};
use crate::ui::r#try::stream_pace::StreamPace;
use crate::ui::r#try::{RunClick, run_row};
use columns::Column;
use entries::Picker;
use other_input::OtherInput;

/// One model's column while the comparison runs.
#[derive(Default)]
struct Live {
    name: String,
    status: Option<String>,
    answer: String,
    result: Option<RunResult>,
}

/// A comparison in progress (or stopped part-way).
struct Running {
    runner: Option<Runner>,
    blind: bool,
    /// The shown order, once planned.
    order: Vec<usize>,
    live: Vec<Live>,
    /// The entry running now.
    current: usize,
}

/// The Compare view's state.
pub struct CompareView {
    picker: Picker,
    prompt: String,
    params: GenerationParams,
    /// Other tasks' input: text (one per line where a task takes several), a file, options.
    other: OtherInput,
    blind: bool,
    running: Option<Running>,
    comparison: Option<Comparison>,
    error: Option<String>,
    saving: Option<Background<Result<Option<PathBuf>, String>>>,
    saved: Option<String>,
}

impl Default for CompareView {
    fn default() -> CompareView {
        CompareView {
            picker: Picker::new(TEXT_GENERATION),
            prompt: "Explain in two sentences why the sky is blue.".into(),
            params: GenerationParams {
                max_tokens: 128,
                ..GenerationParams::default()
            },
            other: OtherInput::default(),
            blind: false,
            running: None,
            comparison: None,
            error: None,
            saving: None,
            saved: None,
        }
    }
}

impl CompareView {
    /// Adds `repo` (its first quant, for a GGUF repo) once the cache scan finds it.
    pub fn add(&mut self, repo: RepoId) {
        self.picker.request(repo);
    }

    /// The finished comparison, if any.
    pub fn comparison(&self) -> Option<&Comparison> {
        self.comparison.as_ref()
    }

    /// Draws the view; `hub_cache` is where models are found, `pace` how soon streamed
    /// answers are painted.
    pub fn show(&mut self, ui: &mut egui::Ui, hub_cache: &Path, pace: StreamPace) {
        self.poll();
        ui.horizontal(|ui| {
            ui.heading("Compare");
            ui.label(
                RichText::new(
                    "Downloaded models of one task answer one input in turn, on this machine, \
                     each measured.",
                )
                .weak(),
            );
        });
        let busy = self.running.as_ref().is_some_and(|r| r.runner.is_some());
        let hide_names = self.names_hidden();
        ui.add_enabled_ui(!busy, |ui| self.task_picker(ui));
        self.picker.show(ui, hub_cache, busy, hide_names);
        self.input(ui, busy, pace);
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        self.export_row(ui);
        ui.add_space(4.0);
        self.columns(ui);
    }

    /// Whether the names are hidden: a blind comparison running, or finished without a vote.
    fn names_hidden(&self) -> bool {
        match (&self.comparison, &self.running) {
            (Some(comparison), _) => comparison.names_hidden(),
            (None, Some(running)) => running.blind,
            (None, None) => false,
        }
    }

    fn task_picker(&mut self, ui: &mut egui::Ui) {
        let mut task = self.picker.task();
        ui.horizontal(|ui| {
            let label = ui.label("Task");
            egui::ComboBox::from_id_salt("compare-task")
                .selected_text(task.as_str())
                .show_ui(ui, |ui| {
                    for each in registry::all_tasks() {
                        ui.selectable_value(&mut task, each, each.as_str());
                    }
                })
                .response
                .labelled_by(label.id);
        });
        if task != self.picker.task() {
            self.picker.set_task(task);
            self.comparison = None;
            self.error = None;
        }
    }

    fn chatting(&self) -> bool {
        self.picker.task() == TEXT_GENERATION
    }

    fn input(&mut self, ui: &mut egui::Ui, busy: bool, pace: StreamPace) {
        if self.chatting() {
            ui.horizontal(|ui| {
                let label = ui.label("Prompt");
                let edit = egui::TextEdit::multiline(&mut self.prompt)
                    .desired_rows(2)
                    .desired_width(ui.available_width());
                ui.add_enabled(!busy, edit).labelled_by(label.id);
            });
        } else {
            ui.add_enabled_ui(!busy, |ui| self.other.show(ui));
        }
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(!busy, |ui| {
                if !self.chatting() {
                    return self.blind_box(ui);
                }
                let label = ui.label("Max tokens");
                ui.add(egui::DragValue::new(&mut self.params.max_tokens).range(1..=4096))
                    .labelled_by(label.id);
                let label = ui.label("Temperature");
                ui.add(
                    egui::DragValue::new(&mut self.params.temperature)
                        .range(0.0..=2.0)
                        .speed(0.05),
                )
                .labelled_by(label.id)
                .on_hover_text("0 is greedy: the same answer every time");
                self.blind_box(ui);
            });
            let given = match self.chatting() {
                true => !self.prompt.trim().is_empty(),
                false => self.other.given(),
            };
            let ready = self.picker.chosen().len() >= 2 && given;
            match run_row(ui, "Run", ready, busy) {
                RunClick::Run => self.start(ui.ctx(), pace),
                RunClick::Stop => self.stop(),
                RunClick::None => {}
            }
            if !ready && !busy {
                ui.label(RichText::new("Add two models or more and an input.").weak());
            }
            if let Some(line) = self.progress_line() {
                ui.label(RichText::new(line).weak());
            }
        });
    }

    fn blind_box(&mut self, ui: &mut egui::Ui) {
        let blind = ui
            .checkbox(&mut self.blind, "Blind")
            .on_hover_text("Show the answers as Model A, B, … until you vote");
        if blind.changed()
            && !self.blind
            && let Some(comparison) = &mut self.comparison
        {
            comparison.blind = false;
        }
    }

    fn start(&mut self, ctx: &egui::Context, pace: StreamPace) {
        let entries = self.picker.chosen().to_vec();
        let (request, input): (RequestFn, String) = if self.chatting() {
            let request = GenerationRequest {
                prompt: Prompt::ChatIfTemplate(vec![ChatMessage::new("user", self.prompt.trim())]),
                params: self.params.clone(),
            };
            let input = self.prompt.trim().to_string();
            (Box::new(move |_| Ok(Request::new(request.clone()))), input)
        } else {
            let words = self.other.words();
            let input = self.other.describe();
            (
                Box::new(move |task| registry::request_from_words(task, &words)),
                input,
            )
        };
        let job = Job {
            task: Some(self.picker.task()),
            entries: entries.clone(),
            device: DeviceRequest::Auto,
            request,
            input,
            blind: self.blind,
        };
        let repaint = ctx.clone();
        let waker = Waker::new(move || pace.wake(&repaint));
        self.comparison = None;
        self.error = None;
        self.saved = None;
        self.running = Some(Running {
            runner: Some(Runner::start(job, Some(waker))),
            blind: self.blind,
            order: (0..entries.len()).collect(),
            live: entries
                .iter()
                .map(|entry| Live {
                    name: entry.to_string(),
                    status: Some("waiting".into()),
                    ..Live::default()
                })
                .collect(),
            current: 0,
        });
    }

    /// Stops at once: the runner (and the model it runs) is dropped; what finished stays.
    fn stop(&mut self) {
        if let Some(running) = &mut self.running {
            running.runner = None;
            for live in &mut running.live {
                live.status = None;
            }
            self.error = Some("Stopped.".into());
        }
    }

    fn poll(&mut self) {
        let Some(running) = &mut self.running else {
            return;
        };
        while let Some(progress) = running.runner.as_ref().and_then(Runner::try_recv) {
            match progress {
                Progress::Planned { order, .. } => running.order = order,
                Progress::Status { index, line } => {
                    running.current = index;
                    if let Some(live) = running.live.get_mut(index) {
                        live.status = Some(line);
                    }
                }
                Progress::Loaded { index, .. } => {
                    if let Some(live) = running.live.get_mut(index) {
                        live.status = Some("answering".into());
                    }
                }
                Progress::Token { index, piece } => {
                    if let Some(live) = running.live.get_mut(index) {
                        live.answer.push_str(&piece);
                    }
                }
                Progress::Done { index, result } => {
                    if let Some(live) = running.live.get_mut(index) {
                        live.status = None;
                        live.result = Some(result);
                    }
                }
                Progress::Finished(comparison) => {
                    self.comparison = Some(comparison);
                    self.running = None;
                    return;
                }
                Progress::Failed { model, error } => {
                    self.error = Some(match model {
                        Some(model) => format!("{model}: {error}"),
                        None => error.to_string(),
                    });
                    self.running = None;
                    return;
                }
            }
        }
    }

    /// `Running 1 of 2: org/name` (no name while blind).
    fn progress_line(&self) -> Option<String> {
        let running = self.running.as_ref().filter(|r| r.runner.is_some())?;
        let n = running.live.len();
        let at = running.current + 1;
        Some(match running.blind {
            true => format!("Running model {at} of {n}"),
            false => format!(
                "Running {at} of {n}: {}",
                running.live[running.current].name
            ),
        })
    }

    fn export_row(&mut self, ui: &mut egui::Ui) {
        match poll_save(&mut self.saving) {
            Some(Ok(saved)) => self.saved = Some(saved),
            Some(Err(e)) => self.error = Some(format!("Could not export: {e}")),
            None => {}
        }
        let Some(comparison) = &self.comparison else {
            return;
        };
        ui.horizontal(|ui| {
            let exports = [
                ("Export Markdown…", "md", comparison.to_markdown()),
                ("Export JSON…", "json", comparison.to_json()),
            ];
            for (button, extension, text) in exports {
                let hover = match comparison.names_hidden() {
                    true => "Names stay hidden until you vote",
                    false => "Every answer and figure",
                };
                if ui.button(button).on_hover_text(hover).clicked() {
                    self.saved = None;
                    self.saving = Some(save_dialog(
                        ui.ctx(),
                        "Export the comparison",
                        &format!("hubble-compare.{extension}"),
                        extension,
                        move |path| std::fs::write(path, text).map_err(|e| e.to_string()),
                    ));
                }
            }
            if let Some(saved) = &self.saved {
                ui.label(saved);
            }
        });
    }

    fn columns(&mut self, ui: &mut egui::Ui) {
        if let Some(comparison) = &mut self.comparison {
            if let Some(position) = finished_columns(ui, comparison) {
                comparison.vote_for(position);
            }
            return;
        }
        let Some(running) = &self.running else {
            ui.label(
                RichText::new(
                    "Pick two to four models, write a prompt and press Run (Ctrl+Enter). Each \
                     model loads, answers and is unloaded before the next.",
                )
                .weak(),
            );
            return;
        };
        let shown: Vec<Column> = running
            .order
            .iter()
            .enumerate()
            .filter_map(|(position, &index)| {
                let live = running.live.get(index)?;
                let result = live.result.as_ref();
                Some(Column {
                    title: match running.blind {
                        true => label(position),
                        false => format!("{} · {}", label(position), live.name),
                    },
                    loaded: result
                        .and_then(|r| r.loaded.as_deref())
                        .filter(|_| !running.blind),
                    status: live.status.as_deref(),
                    answer: &live.answer,
                    error: result.and_then(|r| r.error.as_deref()),
                    figures: result.map(|r| &r.figures),
                    winner: false,
                })
            })
            .collect();
        columns::show(ui, &shown, false);
    }
}

/// A finished comparison's columns, with vote buttons until a vote; the position voted for.
fn finished_columns(ui: &mut egui::Ui, comparison: &Comparison) -> Option<usize> {
    let hidden = comparison.names_hidden();
    let shown: Vec<Column> = comparison
        .shown()
        .map(|run| Column {
            title: comparison.title(run),
            loaded: run.loaded.as_deref().filter(|_| !hidden),
            status: None,
            answer: &run.answer,
            error: run.error.as_deref(),
            figures: Some(&run.figures),
            winner: comparison.winner() == Some(run),
        })
        .collect();
    columns::show(ui, &shown, comparison.vote.is_none())
}
