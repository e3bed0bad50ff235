//! The dataset page: header (id, facets, counts), tabs Card | Files | Preview. The preview is
//! the dataset viewer's first rows, else the downloaded Parquet/CSV/JSONL files'; Files can
//! download the dataset into `datasets--org--name`. Links to `<endpoint>/datasets/<id>` (the
//! model card's `datasets:` entries) open here instead of in the browser.

use eframe::egui::{self, Color32, RichText};
use egui_commonmark::CommonMarkCache;

use crate::datasets::{DEFAULT_ROWS, PreviewRequest, PreviewSource};
use crate::download::DownloadSpec;
use crate::format::{bytes, count};
use crate::hub::{DatasetInfo, RepoId, RepoType};
use crate::ui::browse::dataset_preview::PreviewTable;
use crate::ui::model_page::card_view::{self, CardLinks};
use crate::ui::model_page::html::prepare_markdown;
use crate::ui::runtime::worker::{CardData, Job, Outcome, Reply, Ticket, Worker};
use crate::ui::widgets::{chip, error_box};

/// The dataset page's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetTab {
    /// The rendered dataset card.
    Card,
    /// Files with sizes, and Download.
    Files,
    /// The first rows with column types.
    Preview,
}

/// Something loading, loaded or failed.
enum Slot<T> {
    Idle,
    Loading(Ticket),
    Ready(T),
    Failed(String),
}

impl<T> Slot<T> {
    fn waits_for(&self, id: u64) -> bool {
        matches!(self, Slot::Loading(t) if t.id == id)
    }
}

/// One dataset page.
pub struct DatasetView {
    /// The dataset shown.
    pub repo: RepoId,
    info: Slot<DatasetInfo>,
    card: Slot<CardData>,
    body: String,
    preview: Slot<PreviewTable>,
    /// The open tab.
    pub tab: DatasetTab,
    /// A download the Files tab asked for; the app takes it and starts it.
    pub download: Option<DownloadSpec>,
    markdown: CommonMarkCache,
}

impl DatasetView {
    /// A page for `repo`, starting its info and card requests.
    pub fn open(repo: RepoId, worker: &mut Worker) -> DatasetView {
        DatasetView {
            info: Slot::Loading(worker.submit(Job::Dataset(repo.clone()))),
            card: Slot::Loading(worker.submit(Job::DatasetCard(repo.clone()))),
            repo,
            body: String::new(),
            preview: Slot::Idle,
            tab: DatasetTab::Card,
            download: None,
            markdown: CommonMarkCache::default(),
        }
    }

    /// Takes the reply if it is this page's.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>, endpoint: &str) {
        let Some(id) = reply.as_ref().map(|r| r.id) else {
            return;
        };
        if !(self.info.waits_for(id) || self.card.waits_for(id) || self.preview.waits_for(id)) {
            return;
        }
        match reply.take().map(|r| r.outcome) {
            Some(Outcome::Dataset(result)) => {
                self.info = result.map_or_else(|e| Slot::Failed(e.to_string()), Slot::Ready);
            }
            Some(Outcome::Card(Ok(data))) => {
                self.body = prepare_markdown(&data.card.body, &self.links(endpoint).resolve_base);
                self.card = Slot::Ready(data);
            }
            Some(Outcome::Card(Err(error))) => {
                self.card = Slot::Failed(format!("No dataset card: {error}"));
            }
            Some(Outcome::Preview(result)) => {
                self.preview = result
                    .map_or_else(|e| Slot::Failed(e.to_string()), |table| Slot::Ready(*table));
            }
            _ => {}
        }
    }

    fn links(&self, endpoint: &str) -> CardLinks {
        CardLinks {
            resolve_base: format!("{endpoint}/datasets/{}/resolve/main/", self.repo),
            blob_base: format!("{endpoint}/datasets/{}/blob/main/", self.repo),
            endpoint: endpoint.to_owned(),
        }
    }

    /// Shows the page.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker) {
        let endpoint = worker.config().endpoint.clone();
        self.header(ui, &endpoint);
        ui.horizontal(|ui| {
            for (tab, name) in [
                (DatasetTab::Card, "Card"),
                (DatasetTab::Files, "Files"),
                (DatasetTab::Preview, "Preview"),
            ] {
                ui.selectable_value(&mut self.tab, tab, RichText::new(name).heading());
            }
        });
        ui.separator();
        match self.tab {
            DatasetTab::Card => match &self.card {
                Slot::Idle | Slot::Loading(_) => {
                    ui.spinner();
                }
                Slot::Failed(error) => {
                    ui.label(error);
                }
                Slot::Ready(data) => {
                    let links = self.links(&endpoint);
                    egui::ScrollArea::vertical()
                        .auto_shrink([false, false])
                        .show(ui, |ui| {
                            card_view::show(ui, data, &self.body, &mut self.markdown, &links);
                        });
                }
            },
            DatasetTab::Files => self.files(ui, worker),
            DatasetTab::Preview => self.preview(ui, worker),
        }
    }

    fn header(&self, ui: &mut egui::Ui, endpoint: &str) {
        ui.horizontal(|ui| {
            ui.heading(RichText::new(self.repo.as_str()).strong());
            chip(ui, "Dataset", Color32::from_rgb(200, 120, 40));
            if ui.small_button("Open on Hub").clicked() {
                ui.ctx().open_url(egui::OpenUrl::new_tab(format!(
                    "{endpoint}/datasets/{}",
                    self.repo
                )));
            }
        });
        // A line in every state, so the tabs below do not jump when the details arrive.
        let info = match &self.info {
            Slot::Ready(info) => info,
            Slot::Idle | Slot::Loading(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.weak("loading the dataset's details…");
                });
                return;
            }
            Slot::Failed(_) => {
                ui.weak("no details (see Files)");
                return;
            }
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{} downloads  ·  {} likes",
                count(info.downloads.unwrap_or(0)),
                count(info.likes.unwrap_or(0))
            ));
            for facet in ["task_categories", "size_categories", "modality", "format"] {
                for value in info.facet(facet) {
                    chip(ui, value, Color32::from_rgb(80, 140, 230));
                }
            }
            for value in info.facet("license") {
                chip(ui, &format!("license: {value}"), Color32::from_gray(140));
            }
        });
    }

    fn files(&mut self, ui: &mut egui::Ui, worker: &mut Worker) {
        let mut retry = false;
        match &self.info {
            Slot::Idle | Slot::Loading(_) => {
                ui.spinner();
            }
            Slot::Failed(error) => retry = error_box(ui, error),
            Slot::Ready(info) => {
                let sizes: Vec<Option<u64>> = info
                    .siblings
                    .iter()
                    .map(|s| s.lfs.as_ref().map(|l| l.size).or(s.size))
                    .collect();
                let total: u64 = sizes.iter().flatten().sum();
                ui.horizontal(|ui| {
                    ui.label(format!("{} files, {}", info.siblings.len(), bytes(total)));
                    if ui.button("Download dataset").clicked() {
                        self.download = Some(DownloadSpec {
                            repo_type: RepoType::Dataset,
                            ..DownloadSpec::new(self.repo.clone())
                        });
                    }
                });
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        egui::Grid::new("dataset-files")
                            .striped(true)
                            .show(ui, |ui| {
                                for (file, size) in info.siblings.iter().zip(&sizes) {
                                    ui.label(&file.path);
                                    ui.label(size.map(bytes).unwrap_or_default());
                                    ui.end_row();
                                }
                            });
                    });
            }
        }
        if retry {
            self.info = Slot::Loading(worker.submit(Job::Dataset(self.repo.clone())));
        }
    }

    fn preview(&mut self, ui: &mut egui::Ui, worker: &mut Worker) {
        if matches!(self.preview, Slot::Idle) {
            self.request_preview(worker);
        }
        let mut again = false;
        match &self.preview {
            Slot::Idle | Slot::Loading(_) => {
                ui.spinner();
            }
            Slot::Failed(error) => again = error_box(ui, error),
            Slot::Ready(table) => {
                let preview = &table.preview;
                ui.horizontal(|ui| {
                    let from = match preview.source {
                        PreviewSource::Viewer => "from the dataset viewer",
                        PreviewSource::File => "from the downloaded file",
                    };
                    ui.label(format!("{} {from}", preview.origin));
                    again = ui.small_button("Reload").clicked();
                });
                table.show(ui);
            }
        }
        if again {
            self.request_preview(worker);
        }
    }

    fn request_preview(&mut self, worker: &mut Worker) {
        let request = PreviewRequest {
            repo: self.repo.clone(),
            viewer: Some(worker.config().viewer_endpoint.clone()),
            revision: "main".to_owned(),
            file: None,
            rows: DEFAULT_ROWS,
        };
        self.preview = Slot::Loading(worker.submit(Job::DatasetPreview(request)));
    }
}

/// Removes this frame's requests to open `<endpoint>/datasets/<org>/<name>` in the browser and
/// returns the (last) dataset id, so the app opens its page instead.
pub fn take_dataset_link(ctx: &egui::Context, endpoint: &str) -> Option<RepoId> {
    let prefix = format!("{}/datasets/", endpoint.trim_end_matches('/'));
    let mut found = None;
    ctx.output_mut(|output| {
        output.commands.retain(|command| {
            let egui::OutputCommand::OpenUrl(open) = command else {
                return true;
            };
            let id = open.url.strip_prefix(&prefix).and_then(|rest| {
                let id = rest.split(['?', '#']).next().unwrap_or(rest);
                RepoId::parse(id).ok()
            });
            match id {
                Some(id) => {
                    found = Some(id);
                    false
                }
                None => true,
            }
        });
    });
    found
}
