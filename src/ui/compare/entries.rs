//! The Compare view's models: the cached models of the task (each GGUF quant on its own)
//! found off the UI thread, the ones chosen (Remove), an **Add a model** picker, and the models
//! other pages asked to add, taken once the cache scan knows them (the first one picks the
//! task when none is chosen yet).

use std::path::Path;

use eframe::egui::{self, RichText};

use crate::compare::MAX_ENTRIES;
use crate::hub::RepoId;
use crate::infer::Task;
use crate::infer::cached::{CachedEntry, Runnable, runnable};
use crate::ui::runtime::background::Background;

/// What the cache holds that can be compared.
enum Scan {
    NotAsked,
    Pending(Background<Vec<Runnable>>),
    Ready(Vec<Runnable>),
}

/// The chosen models and where more come from.
pub struct Picker {
    /// The task every model must run.
    task: Task,
    scan: Scan,
    chosen: Vec<CachedEntry>,
    /// Models asked for (a model page's or the Cache page's Compare), not yet found.
    pending: Vec<RepoId>,
    /// Why a model asked for could not be added.
    note: Option<String>,
}

impl Picker {
    /// An empty choice of models that run `task`.
    pub fn new(task: Task) -> Picker {
        Picker {
            task,
            scan: Scan::NotAsked,
            chosen: Vec::new(),
            pending: Vec::new(),
            note: None,
        }
    }

    /// Adds `repo` once the cache has been scanned again (it may have just been downloaded).
    pub fn request(&mut self, repo: RepoId) {
        self.pending.push(repo);
        self.scan = Scan::NotAsked;
    }

    /// The models chosen, in the order they will run.
    pub fn chosen(&self) -> &[CachedEntry] {
        &self.chosen
    }

    /// The task every model runs.
    pub fn task(&self) -> Task {
        self.task
    }

    /// Compares models of `task` from now on: the models chosen for another task are dropped.
    pub fn set_task(&mut self, task: Task) {
        if task != self.task {
            self.task = task;
            self.chosen.clear();
            self.note = None;
        }
    }

    /// Scans the cache if needed and takes the models asked for once it is known.
    fn poll(&mut self, ctx: &egui::Context, hub_cache: &Path) {
        if matches!(self.scan, Scan::NotAsked) {
            let hub_cache = hub_cache.to_path_buf();
            self.scan = Scan::Pending(Background::spawn_thread(ctx, move || runnable(&hub_cache)));
        }
        if let Scan::Pending(scan) = &self.scan
            && let Some(found) = scan.poll()
        {
            self.scan = Scan::Ready(found.unwrap_or_default());
        }
        let Scan::Ready(found) = &self.scan else {
            return;
        };
        for repo in std::mem::take(&mut self.pending) {
            if self.chosen.iter().any(|e| e.repo == repo) {
                continue;
            }
            let of_repo = || found.iter().filter(|c| c.entry.repo == repo);
            // The first model chosen may set the task (a classifier added from its page).
            if self.chosen.is_empty()
                && !of_repo().any(|c| c.tasks.contains(&self.task))
                && let Some(task) = of_repo().next().map(|c| c.tasks[0])
            {
                self.task = task;
            }
            let candidate = of_repo().find(|c| c.tasks.contains(&self.task));
            self.note = match candidate {
                _ if self.chosen.len() >= MAX_ENTRIES => {
                    Some(format!("A comparison takes at most {MAX_ENTRIES} models."))
                }
                Some(candidate) => {
                    self.chosen.push(candidate.entry.clone());
                    None
                }
                None => Some(format!(
                    "{repo} can't join this comparison: it is not a downloaded {} model",
                    self.task
                )),
            };
        }
    }

    /// The models row; `locked` while a comparison runs, `hide_names` while a blind one waits
    /// for its vote.
    pub fn show(&mut self, ui: &mut egui::Ui, hub_cache: &Path, locked: bool, hide_names: bool) {
        self.poll(ui.ctx(), hub_cache);
        ui.horizontal(|ui| {
            ui.label(RichText::new("Models").strong());
            if hide_names {
                ui.label(format!(
                    "{} models, names hidden until you vote",
                    self.chosen.len()
                ));
            } else if self.chosen.is_empty() {
                ui.label(RichText::new("none yet: add two or more").weak());
            }
        });
        if !hide_names {
            self.chosen_list(ui, locked);
        }
        ui.horizontal(|ui| {
            ui.add_enabled_ui(!locked && self.chosen.len() < MAX_ENTRIES, |ui| {
                self.add_menu(ui);
            });
            if matches!(self.scan, Scan::Pending(_)) {
                ui.spinner();
            } else if ui
                .small_button("Rescan")
                .on_hover_text("Look for models downloaded since")
                .clicked()
            {
                self.scan = Scan::NotAsked;
            }
        });
        if let Some(note) = &self.note {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
    }

    /// One row per chosen model: its name and Remove.
    fn chosen_list(&mut self, ui: &mut egui::Ui, locked: bool) {
        let mut removed = None;
        for (i, entry) in self.chosen.iter().enumerate() {
            ui.horizontal(|ui| {
                ui.label(RichText::new(entry.to_string()).monospace());
                let remove = ui
                    .add_enabled(!locked, egui::Button::new("Remove").small())
                    .on_hover_text(format!("Take {entry} out of the comparison"));
                if remove.clicked() {
                    removed = Some(i);
                }
            });
        }
        if let Some(i) = removed {
            self.chosen.remove(i);
        }
    }

    fn add_menu(&mut self, ui: &mut egui::Ui) {
        let offered: Vec<CachedEntry> = match &self.scan {
            Scan::Ready(found) => found
                .iter()
                .filter(|c| c.tasks.contains(&self.task) && !self.chosen.contains(&c.entry))
                .map(|c| c.entry.clone())
                .collect(),
            _ => Vec::new(),
        };
        let label = ui.label("Add");
        egui::ComboBox::from_id_salt("compare-add")
            .selected_text("a cached model…")
            .width(200.0)
            .show_ui(ui, |ui| {
                if offered.is_empty() {
                    ui.label(format!("No other downloaded {} model", self.task));
                }
                for entry in offered {
                    if ui.selectable_label(false, entry.to_string()).clicked() {
                        self.chosen.push(entry);
                        self.note = None;
                    }
                }
            })
            .response
            .labelled_by(label.id);
    }
}
