//! The Try tab: finds the model's snapshot in the local cache (off the UI thread), offers only
//! the tasks that will work, loads the model on an [`InferenceWorker`] thread, and hands its
//! events to the task's view (chat, similarity, …). The UI thread never waits on the model: the
//! worker's waker repaints the window when an event arrives.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, RichText};

use crate::cache::CachedRepo;
use crate::fit::system::resident_bytes;
use crate::format::bytes;
use crate::hub::{ModelInfo, RepoId};
use crate::infer::facts::gguf_architecture;
use crate::infer::registry;
use crate::infer::tasks::text_generation::TEXT_GENERATION;
use crate::infer::{DeviceRequest, Event, InferenceWorker, ModelFacts, Task, Waker, device};
use crate::ui::runtime::background::Background;
use crate::ui::r#try::stream_pace::StreamPace;
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest, views};
use crate::ui::widgets::error_box;

/// What the tab asks of the rest of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAction {
    /// Nothing.
    None,
    /// Show the Files tab (to download the weights).
    ShowFiles,
}

/// What the cache holds for the model.
#[derive(Debug, Clone)]
struct Found {
    dir: PathBuf,
    facts: ModelFacts,
    /// Each GGUF file's architecture, read off the UI thread (the File picker's choices).
    gguf_architectures: std::collections::HashMap<String, String>,
    tasks: Vec<Task>,
    /// Why the default task can't run, when no task can.
    reason: Option<String>,
    /// config.json, for the translation / summarisation prefixes.
    config: serde_json::Value,
}

enum Lookup {
    Idle,
    Pending(Background<Result<Arc<Found>, String>>),
    Done(Result<Arc<Found>, String>),
}

/// A loaded (or loading) model.
struct Session {
    worker: InferenceWorker,
    task: Task,
    /// The index of the view that shows the task.
    view: usize,
    state: SessionState,
    /// A job is running (the stop button shows).
    busy: bool,
    rss_before: Option<u64>,
    /// What the model holds on its wgpu device, once loaded there (bytes, adapter).
    gpu_memory: Option<(u64, String)>,
}

enum SessionState {
    Loading(String),
    Ready(String),
    Failed(String),
}

/// The Try tab of one model page.
pub struct TryView {
    repo: RepoId,
    /// The revision whose snapshot is looked up (the page's revision picker).
    revision: String,
    lookup: Lookup,
    task: Option<Task>,
    gguf_file: Option<String>,
    device: DeviceRequest,
    /// What the device picker offers (CUDA/Metal, each wgpu adapter, the CPU).
    devices: DeviceList,
    /// How soon streamed output is painted (the renderer's, given to `show`).
    pace: StreamPace,
    session: Option<Session>,
    /// What the model took when it loaded: RAM the process gained, or its buffers on a wgpu
    /// device; with where it runs.
    measured: Option<(u64, String)>,
    /// The measurement not yet handed to the Fit tab: bytes and where the model runs.
    unreported: Option<(u64, String)>,
    /// One view per task family ([`views`]).
    views: Vec<Box<dyn TaskView>>,
    /// What the Hub's metadata says will run, for (model, commit, picked task): planned once,
    /// not every frame.
    metadata_plan: Option<(MetadataKey, Result<Task, String>)>,
}

/// Which metadata and task a cached [`plan_from_metadata`] answer is for.
type MetadataKey = (String, Option<String>, Option<Task>);

impl TryView {
    /// A tab for `repo`; nothing happens until it is first shown.
    pub fn new(repo: RepoId) -> TryView {
        TryView {
            repo,
            revision: "main".into(),
            lookup: Lookup::Idle,
            task: None,
            gguf_file: None,
            device: DeviceRequest::Auto,
            devices: DeviceList::NotAsked,
            pace: StreamPace::default(),
            session: None,
            measured: None,
            unreported: None,
            views: views(),
            metadata_plan: None,
        }
    }

    /// Shows the tab for the page's `revision`; `hub_cache` is where snapshots are looked up,
    /// `pace` how soon a model's streamed output is painted, `info` the Hub's metadata when it
    /// came from the Hub (to say what will run before anything is downloaded).
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        hub_cache: &std::path::Path,
        revision: &str,
        pace: StreamPace,
        info: Option<&ModelInfo>,
    ) -> TryAction {
        self.pace = pace;
        if revision != self.revision && self.session.is_none() {
            self.revision = revision.to_string();
            self.lookup = Lookup::Idle;
        }
        self.poll_lookup(ui.ctx(), hub_cache);
        self.poll_session();
        let found = match &self.lookup {
            Lookup::Idle | Lookup::Pending(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Looking for the model in the local cache…");
                });
                return TryAction::None;
            }
            Lookup::Done(Err(message)) => {
                let message = message.clone();
                return self.not_available(ui, &message, info);
            }
            // A shared handle: the facts and config are not copied every frame.
            Lookup::Done(Ok(found)) => Arc::clone(found),
        };
        if found.tasks.is_empty() {
            let reason = found
                .reason
                .clone()
                .unwrap_or_else(|| "no task this build can run".into());
            return self.not_available(ui, &reason, info);
        }
        self.controls(ui, &found);
        ui.separator();
        self.session_view(ui, &found);
        TryAction::None
    }

    /// The device picked in the picker, as its label says it (`None`: auto).
    pub fn picked_device(&self) -> Option<String> {
        if self.device == DeviceRequest::Auto {
            return None;
        }
        let listed = match &self.devices {
            DeviceList::Ready(list) => list.iter().find(|(d, _)| *d == self.device),
            _ => None,
        };
        Some(listed.map_or_else(|| self.device.to_string(), |(_, label)| label.clone()))
    }

    /// The memory measured when the model last loaded (bytes, device), once.
    pub fn take_measured(&mut self) -> Option<(u64, String)> {
        self.unreported.take()
    }

    fn not_available(
        &mut self,
        ui: &mut egui::Ui,
        message: &str,
        info: Option<&ModelInfo>,
    ) -> TryAction {
        let mut action = TryAction::None;
        ui.add_space(12.0);
        let verdict = info.map(|info| {
            let key = (info.id.clone(), info.sha.clone(), self.task);
            if self
                .metadata_plan
                .as_ref()
                .is_none_or(|(cached, _)| *cached != key)
            {
                let verdict = plan_from_metadata(info, self.task);
                self.metadata_plan = Some((key, verdict));
            }
            self.metadata_plan
                .as_ref()
                .expect("set just above")
                .1
                .clone()
        });
        match verdict {
            Some(Ok(task)) => {
                ui.label(RichText::new(format!("{task} works here")).heading());
                ui.label(format!(
                    "Hubble can run this model for {task} on this machine once its files are \
                     downloaded."
                ));
                ui.label(RichText::new(message).weak());
            }
            Some(Err(reason)) => {
                ui.label(RichText::new("This model can't be tried here yet.").heading());
                ui.label(format!("{reason}: downloading it won't change that yet."));
            }
            None => {
                ui.label(RichText::new("This model can't be tried here yet.").heading());
                ui.label(message);
            }
        }
        ui.horizontal(|ui| {
            if ui.button("Go to Files to download it").clicked() {
                action = TryAction::ShowFiles;
            }
            if ui.button("Look again").clicked() {
                self.lookup = Lookup::Idle;
            }
        });
        action
    }

    fn poll_lookup(&mut self, ctx: &egui::Context, hub_cache: &std::path::Path) {
        match &self.lookup {
            Lookup::Idle => {
                let repo = self.repo.clone();
                let revision = self.revision.clone();
                let hub_cache = hub_cache.to_path_buf();
                self.lookup = Lookup::Pending(Background::spawn_thread(ctx, move || {
                    find(&hub_cache, &repo, &revision).map(Arc::new)
                }));
            }
            Lookup::Pending(task) => {
                if let Some(result) = task.poll() {
                    let result = result.and_then(|found| found);
                    if let Ok(found) = &result {
                        let default = registry::default_task(&found.facts);
                        self.task = self
                            .task
                            .or(default.filter(|t| found.tasks.contains(t)))
                            .or_else(|| found.tasks.first().copied());
                        self.gguf_file = found.facts.gguf_files().into_iter().next();
                    }
                    self.lookup = Lookup::Done(result);
                }
            }
            Lookup::Done(_) => {}
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui, found: &Found) {
        let loaded = self.session.is_some();
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Task");
            ui.add_enabled_ui(!loaded, |ui| {
                egui::ComboBox::from_id_salt("try-task")
                    .selected_text(self.task.map(Task::as_str).unwrap_or("—"))
                    .show_ui(ui, |ui| {
                        for task in &found.tasks {
                            ui.selectable_value(&mut self.task, Some(*task), task.as_str());
                        }
                    })
                    .response
                    .labelled_by(label.id);
            });
            let ggufs = found.facts.gguf_files();
            if ggufs.len() > 1 && self.task == Some(TEXT_GENERATION) {
                let label = ui.label("File");
                ui.add_enabled_ui(!loaded, |ui| {
                    egui::ComboBox::from_id_salt("try-gguf")
                        .selected_text(self.gguf_file.as_deref().unwrap_or("—"))
                        .show_ui(ui, |ui| {
                            for file in &ggufs {
                                ui.selectable_value(
                                    &mut self.gguf_file,
                                    Some(file.clone()),
                                    file.as_str(),
                                );
                            }
                        })
                        .response
                        .labelled_by(label.id);
                });
            }
            let label = ui.label("Device");
            let choices = self.devices.get(ui.ctx()).map(<[_]>::to_vec);
            ui.add_enabled_ui(!loaded, |ui| {
                egui::ComboBox::from_id_salt("try-device")
                    .selected_text(self.device.to_string())
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.device, DeviceRequest::Auto, "auto");
                        match &choices {
                            Some(choices) => {
                                for (choice, label) in choices {
                                    ui.selectable_value(&mut self.device, choice.clone(), label);
                                }
                            }
                            None => {
                                ui.label("looking for GPUs…");
                            }
                        }
                    })
                    .response
                    .labelled_by(label.id);
            });
            if loaded {
                if ui
                    .button("Unload")
                    .on_hover_text("Free the model's memory")
                    .clicked()
                {
                    self.session = None;
                }
            } else if ui.button("Load model").clicked() {
                self.load(ui.ctx(), found);
            }
        });
        ui.label(
            RichText::new(format!(
                "{} · {}",
                found.facts.architecture_name(),
                found.dir.display()
            ))
            .weak()
            .small(),
        );
    }

    fn load(&mut self, ctx: &egui::Context, found: &Found) {
        let Some(task) = self.task else { return };
        let Some(view) = self.views.iter().position(|v| v.shows(task)) else {
            self.lookup = Lookup::Done(Err(format!("no view shows {task} yet")));
            return;
        };
        let mut facts = found.facts.clone();
        if let Some(file) = &self.gguf_file {
            facts.files.retain(|f| f == file || !f.ends_with(".gguf"));
            facts.gguf_architecture = found.gguf_architectures.get(file).cloned();
        }
        self.measured = None;
        let plan = match registry::plan(&facts, Some(task)) {
            Ok(plan) => plan,
            Err(error) => {
                self.lookup = Lookup::Done(Err(error.to_string()));
                return;
            }
        };
        let repaint = ctx.clone();
        let pace = self.pace;
        let waker = Waker::new(move || pace.wake(&repaint));
        self.session = Some(Session {
            worker: InferenceWorker::spawn_with_waker(
                found.dir.clone(),
                plan,
                self.device.clone(),
                Some(waker),
            ),
            task,
            view,
            state: SessionState::Loading("starting".into()),
            busy: false,
            rss_before: resident_bytes(),
            gpu_memory: None,
        });
    }

    fn poll_session(&mut self) {
        let Some(session) = &mut self.session else {
            return;
        };
        while let Some(event) = session.worker.try_recv() {
            match event {
                Event::Status(line) => {
                    if let SessionState::Loading(status) = &mut session.state {
                        *status = line;
                    }
                }
                Event::GpuMemory { device, bytes } => {
                    session.gpu_memory = Some((bytes, device));
                }
                Event::Loaded(description) => {
                    // A model on a wgpu device is measured by its buffers there; on the CPU
                    // by what the process grew by.
                    let measured = match session.gpu_memory.take() {
                        Some(on_gpu) => Some(on_gpu),
                        None => {
                            let device = description
                                .rsplit_once(" on ")
                                .map_or("cpu", |(_, device)| device);
                            session
                                .rss_before
                                .zip(resident_bytes())
                                .map(|(before, after)| {
                                    (after.saturating_sub(before), device.to_string())
                                })
                        }
                    };
                    self.measured.clone_from(&measured);
                    self.unreported = measured;
                    session.state = SessionState::Ready(description);
                }
                Event::Token(piece) => self.views[session.view].on_token(&piece),
                Event::Segment(segment) => self.views[session.view].on_segment(segment),
                Event::Progress {
                    done,
                    total,
                    preview,
                } => self.views[session.view].on_progress(done, total, preview),
                Event::Finished(output) => {
                    session.busy = false;
                    self.views[session.view].on_finished(output);
                }
                Event::Failed(message) => {
                    if matches!(session.state, SessionState::Loading(_)) {
                        session.state = SessionState::Failed(message);
                    } else {
                        session.busy = false;
                        self.views[session.view].on_failed(&message);
                    }
                }
            }
        }
    }

    fn session_view(&mut self, ui: &mut egui::Ui, found: &Found) {
        let Some(session) = &mut self.session else {
            ui.label("Pick a task and press Load model. The model runs on this machine.");
            return;
        };
        match &session.state {
            SessionState::Loading(status) => {
                let mut cancel = false;
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Loading: {status}…"));
                    cancel = ui.button("Cancel").clicked();
                });
                if cancel {
                    self.session = None;
                }
                return;
            }
            SessionState::Failed(message) => {
                let message = format!("The model could not be loaded: {message}");
                if error_box(ui, &message) {
                    self.session = None;
                }
                return;
            }
            SessionState::Ready(description) => {
                let mut line = format!("Loaded {description}");
                if let Some((used, device)) = &self.measured {
                    let what = if device.starts_with("wgpu") {
                        "GPU memory used"
                    } else {
                        "memory used"
                    };
                    line.push_str(&format!(" · {what}: {}", bytes(*used)));
                }
                ui.label(RichText::new(line).weak());
            }
        }
        let context = ViewContext {
            task: session.task,
            config: &found.config,
        };
        let view = session.view;
        match self.views[view].show(ui, &context, session.busy) {
            ViewRequest::None => {}
            ViewRequest::Run(request) => match session.worker.submit(request) {
                Ok(()) => session.busy = true,
                Err(error) => self.views[view].on_failed(&error.to_string()),
            },
            ViewRequest::Stop => session.worker.cancel(),
        }
    }
}

/// The task the Hub's metadata says will run here (the picked one, else the model's own), or
/// why none will: planned from the pipeline tag, config.json's architectures and the file list,
/// before anything is downloaded.
pub fn plan_from_metadata(info: &ModelInfo, task: Option<Task>) -> Result<Task, String> {
    let facts = ModelFacts::from_model_info(info);
    registry::plan(&facts, task)
        .map(|plan| plan.task)
        .map_err(|e| e.to_string())
}

/// Finds `repo`'s snapshot at `revision` and what can run from it (reads config.json and the
/// GGUF header, so it runs off the UI thread).
fn find(hub_cache: &std::path::Path, repo: &RepoId, revision: &str) -> Result<Found, String> {
    let cached = CachedRepo::new(hub_cache, repo);
    let commit = cached.resolve_revision(revision).ok_or_else(|| {
        format!(
            "{repo} at {revision} is not downloaded yet: download it (or the files you want) first."
        )
    })?;
    let dir = cached.folder().join("snapshots").join(commit);
    let facts = ModelFacts::from_dir(&dir).map_err(|e| e.to_string())?;
    let tasks = registry::supported_tasks(&facts);
    let gguf_architectures = facts
        .gguf_files()
        .into_iter()
        .filter_map(|file| {
            let architecture = gguf_architecture(&dir.join(&file)).ok()?;
            Some((file, architecture))
        })
        .collect();
    let reason = match registry::plan(&facts, None) {
        Ok(_) => None,
        Err(error) if facts.gguf_files().is_empty() && !facts.has_safetensors() => Some(format!(
            "{error}. The weights (safetensors or GGUF) are not in the cache yet."
        )),
        Err(error) => Some(error.to_string()),
    };
    let config = std::fs::read(dir.join("config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    Ok(Found {
        dir,
        facts,
        gguf_architectures,
        tasks,
        reason,
        config,
    })
}

/// The devices the picker offers, listed off the UI thread once: enumerating GPU adapters
/// opens the drivers, which can take a second.
enum DeviceList {
    NotAsked,
    Pending(Background<Vec<(DeviceRequest, String)>>),
    Ready(Vec<(DeviceRequest, String)>),
}

impl DeviceList {
    /// The list, once known; the first call starts the listing.
    fn get(&mut self, ctx: &egui::Context) -> Option<&[(DeviceRequest, String)]> {
        if matches!(self, DeviceList::NotAsked) {
            *self = DeviceList::Pending(Background::spawn_thread(ctx, device::available));
        }
        if let DeviceList::Pending(listing) = self
            && let Some(result) = listing.poll()
        {
            *self = DeviceList::Ready(
                result.unwrap_or_else(|_| vec![(DeviceRequest::Cpu, "cpu".into())]),
            );
        }
        match self {
            DeviceList::Ready(list) => Some(list),
            _ => None,
        }
    }
}
