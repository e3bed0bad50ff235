//! The model page: a header (id, revision picker, author, task, library, counts, license chip,
//! gated badge) and the tabs Card | Files | Fit | Try | Community | Remote. Card, Files (and its
//! downloads) and Fit follow the picked revision.

use std::collections::BTreeSet;

use eframe::egui::{self, Color32, RichText};
use egui_commonmark::CommonMarkCache;

use crate::card::classify;
use crate::download::DownloadSpec;
use crate::format::{count, params, relative_time};
use crate::hub::{GitRefs, HubError, RepoId, encode_revision};
use crate::remote::RemoteTask;
use crate::ui::model_page::card_view::{self, CardLinks};
use crate::ui::model_page::community::CommunityView;
use crate::ui::model_page::files::{self, FileLinks};
use crate::ui::model_page::fit_tab::FitView;
use crate::ui::model_page::html::prepare_markdown;
use crate::ui::model_page::remote_chat::RemoteChatView;
use crate::ui::model_page::remote_tasks::RemoteTaskView;
use crate::ui::runtime::tasks::task_label;
use crate::ui::runtime::worker::{CardData, Job, ModelData, Outcome, Reply, Ticket, Worker};
use crate::ui::r#try::tab::{TryAction, TryView};
use crate::ui::widgets::{chip, error_box, gated_badge, license_chip};

/// The revision pages show unless a link names another.
pub const DEFAULT_REVISION: &str = "main";

/// The model page's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The rendered model card.
    Card,
    /// The file tree.
    Files,
    /// Memory fit: weights from headers, estimate and verdict per device.
    Fit,
    /// Inference (issues 7 and 8).
    Try,
    /// Discussions, pull requests and the Spaces using the model.
    Community,
    /// The Hub's inference router (remote): the model's classification or speech task, else
    /// chat.
    Remote,
}

/// Something loading, loaded, or failed with the client's message.
pub enum Loadable<T> {
    /// In flight.
    Loading(Ticket),
    /// Here.
    Ready(T),
    /// Failed; the message is the client's.
    Failed(String),
}

/// One model page.
pub struct ModelView {
    /// The repository shown.
    pub repo: RepoId,
    /// The branch, tag or commit shown (`main` at first).
    pub revision: String,
    /// The branches and tags the revision picker offers.
    refs: Loadable<GitRefs>,
    /// The Community tab.
    pub community: CommunityView,
    remote: RemoteChatView,
    remote_task: RemoteTaskView,
    /// Model info.
    pub info: Loadable<ModelData>,
    /// The card.
    pub card: Loadable<CardData>,
    /// The card body with HTML rewritten, once the card is here.
    body: String,
    /// The open tab.
    pub tab: Tab,
    /// Files picked in the Files tab (for downloads).
    pub selected: BTreeSet<String>,
    /// A download the Files tab asked for; the app takes it and starts it.
    pub download: Option<DownloadSpec>,
    /// The Fit tab (its reads start when it is first shown).
    pub fit: FitView,
    /// The header's Compare was clicked; the app takes it and opens the Compare view.
    compare: bool,
    markdown: CommonMarkCache,
    try_view: TryView,
}

impl ModelView {
    /// A page for `repo` at `revision` (`main` unless a link names another), starting its
    /// requests.
    pub fn open(repo: RepoId, revision: String, worker: &mut Worker) -> ModelView {
        let info = Loadable::Loading(worker.submit(Job::Model(repo.clone(), revision.clone())));
        let card = Loadable::Loading(worker.submit(Job::Card(repo.clone(), revision.clone())));
        let refs = Loadable::Loading(worker.submit(Job::Refs(repo.clone())));
        let try_view = TryView::new(repo.clone());
        let fit = FitView::new(repo.clone());
        ModelView {
            community: CommunityView::new(repo.clone()),
            remote: RemoteChatView::new(repo.clone()),
            remote_task: RemoteTaskView::new(repo.clone()),
            repo,
            revision,
            refs,
            info,
            card,
            body: String::new(),
            tab: Tab::Card,
            selected: BTreeSet::new(),
            download: None,
            fit,
            compare: false,
            markdown: CommonMarkCache::default(),
            try_view,
        }
    }

    /// Requests again whatever failed.
    pub fn retry(&mut self, worker: &mut Worker) {
        if matches!(self.info, Loadable::Failed(_)) {
            let job = Job::Model(self.repo.clone(), self.revision.clone());
            self.info = Loadable::Loading(worker.submit(job));
        }
        if matches!(self.card, Loadable::Failed(_)) {
            let job = Job::Card(self.repo.clone(), self.revision.clone());
            self.card = Loadable::Loading(worker.submit(job));
        }
    }

    /// Shows `revision` instead: info and card are requested again, the picked files and the
    /// Fit tab start over (its weights are read at the new revision).
    pub fn set_revision(&mut self, revision: &str, worker: &mut Worker) {
        if revision == self.revision {
            return;
        }
        if let Loadable::Loading(ticket) = &self.info {
            ticket.cancel();
        }
        if let Loadable::Loading(ticket) = &self.card {
            ticket.cancel();
        }
        self.revision = revision.to_owned();
        let job = Job::Model(self.repo.clone(), self.revision.clone());
        self.info = Loadable::Loading(worker.submit(job));
        let job = Job::Card(self.repo.clone(), self.revision.clone());
        self.card = Loadable::Loading(worker.submit(job));
        self.body.clear();
        self.selected.clear();
        self.fit = FitView::new(self.repo.clone());
    }

    /// Whether a request is in flight.
    pub fn is_loading(&self) -> bool {
        matches!(self.info, Loadable::Loading(_)) || matches!(self.card, Loadable::Loading(_))
    }

    /// Takes the reply if it belongs to this page; returns the error of a failed request so
    /// the app can toast it.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>, endpoint: &str) -> Option<HubError> {
        if let Some(error) = self.fit.on_reply(reply) {
            return Some(error);
        }
        self.community.on_reply(reply);
        let id = reply.as_ref()?.id;
        if matches!(&self.refs, Loadable::Loading(t) if t.id == id) {
            if let Some(Outcome::Refs(result)) = reply.take().map(|r| r.outcome) {
                // No picker beyond the current revision is a fine fallback: no toast.
                self.refs = match result {
                    Ok(refs) => Loadable::Ready(refs),
                    Err(error) => Loadable::Failed(error.to_string()),
                };
            }
            return None;
        }
        let for_info = matches!(&self.info, Loadable::Loading(t) if t.id == id);
        let for_card = matches!(&self.card, Loadable::Loading(t) if t.id == id);
        if !for_info && !for_card {
            return None;
        }
        match reply.take()?.outcome {
            Outcome::Model(Ok(data)) => self.info = Loadable::Ready(data),
            Outcome::Card(Ok(data)) => {
                self.body = prepare_markdown(&data.card.body, &self.resolve_base(endpoint));
                self.card = Loadable::Ready(data);
            }
            Outcome::Model(Err(error)) => {
                self.info = Loadable::Failed(error.to_string());
                return Some(error);
            }
            Outcome::Card(Err(HubError::Offline { .. })) => {
                self.card = Loadable::Failed(format!(
                    "The model card (README.md) of {} is not in the local cache, and offline mode \
                     is on. Go online to read it.",
                    self.repo
                ));
            }
            Outcome::Card(Err(HubError::EntryNotFound { .. })) => {
                self.card =
                    Loadable::Failed(format!("{} has no model card (README.md).", self.repo));
            }
            Outcome::Card(Err(error)) => {
                self.card = Loadable::Failed(error.to_string());
                return Some(error);
            }
            _ => {}
        }
        None
    }

    fn resolve_base(&self, endpoint: &str) -> String {
        format!(
            "{endpoint}/{}/resolve/{}/",
            self.repo,
            encode_revision(&self.revision)
        )
    }

    fn blob_base(&self, endpoint: &str) -> String {
        format!(
            "{endpoint}/{}/blob/{}/",
            self.repo,
            encode_revision(&self.revision)
        )
    }

    /// Whether the header's Compare was clicked since the last call.
    pub fn take_compare(&mut self) -> bool {
        std::mem::take(&mut self.compare)
    }

    /// Shows the page.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker) {
        let endpoint = worker.config().endpoint.clone();
        let (retry_header, picked, compare) = self.header(ui, &endpoint);
        self.compare |= compare;
        if retry_header {
            self.retry(worker);
        }
        if let Some(revision) = picked {
            self.set_revision(&revision, worker);
        }
        ui.input_mut(|i| {
            for (key, tab) in [
                (egui::Key::Num1, Tab::Card),
                (egui::Key::Num2, Tab::Files),
                (egui::Key::Num3, Tab::Fit),
                (egui::Key::Num4, Tab::Try),
                (egui::Key::Num5, Tab::Community),
            ] {
                if i.consume_key(egui::Modifiers::COMMAND, key) {
                    self.tab = tab;
                }
            }
        });
        ui.horizontal(|ui| {
            for (tab, name) in [
                (Tab::Card, "Card"),
                (Tab::Files, "Files"),
                (Tab::Fit, "Fit"),
                (Tab::Try, "Try"),
                (Tab::Community, "Community"),
                (Tab::Remote, "Remote"),
            ] {
                ui.selectable_value(&mut self.tab, tab, RichText::new(name).heading())
                    .on_hover_text("Ctrl+1 … Ctrl+5");
            }
        });
        ui.separator();
        let mut retry = false;
        match self.tab {
            Tab::Card => match &self.card {
                Loadable::Loading(_) => {
                    ui.spinner();
                }
                Loadable::Failed(error) => retry = error_box(ui, error),
                Loadable::Ready(data) => {
                    let links = CardLinks {
                        resolve_base: self.resolve_base(&endpoint),
                        blob_base: self.blob_base(&endpoint),
                        endpoint: endpoint.clone(),
                    };
                    egui::ScrollArea::vertical()
                        .auto_shrink([false, false])
                        .show(ui, |ui| {
                            card_view::show(ui, data, &self.body, &mut self.markdown, &links);
                        });
                }
            },
            Tab::Files => match &self.info {
                Loadable::Loading(_) => {
                    ui.spinner();
                }
                Loadable::Failed(error) => retry = error_box(ui, error),
                Loadable::Ready(data) => {
                    let blob_base = self.blob_base(&endpoint);
                    let links = FileLinks {
                        blob_base: &blob_base,
                    };
                    if let Some(files) = files::show(ui, &data.info, &mut self.selected, &links) {
                        self.download = Some(DownloadSpec {
                            revision: Some(self.revision.clone()),
                            files,
                            ..DownloadSpec::new(self.repo.clone())
                        });
                    }
                }
            },
            Tab::Fit => match &self.info {
                Loadable::Loading(_) => {
                    ui.spinner();
                }
                Loadable::Failed(error) => retry = error_box(ui, error),
                Loadable::Ready(data) => self.fit.show(ui, worker, &data.info),
            },
            Tab::Try => {
                let hub_cache = worker.config().hub_cache.clone();
                let pace = worker.stream_pace();
                let info = match &self.info {
                    Loadable::Ready(data) if !data.from_cache => Some(&data.info),
                    _ => None,
                };
                if self
                    .try_view
                    .show(ui, &hub_cache, &self.revision, pace, info)
                    == TryAction::ShowFiles
                {
                    self.tab = Tab::Files;
                }
                if let Some((bytes, device)) = self.try_view.take_measured() {
                    self.fit.set_measured(bytes, device);
                }
                self.fit.set_picked_device(self.try_view.picked_device());
            }
            Tab::Community => self.community.show(ui, worker, &endpoint),
            Tab::Remote => match self
                .pipeline_tag()
                .and_then(|tag| RemoteTask::from_pipeline_tag(&tag))
            {
                Some(task) => self.remote_task.show(ui, worker, task),
                None => self.remote.show(ui, worker),
            },
        }
        if retry {
            self.retry(worker);
        }
    }

    /// The header; returns whether its retry button was clicked, a revision picked, and
    /// whether Compare was clicked.
    fn header(&self, ui: &mut egui::Ui, endpoint: &str) -> (bool, Option<String>, bool) {
        let data = match &self.info {
            Loadable::Ready(data) => Some(data),
            _ => None,
        };
        let card = match &self.card {
            Loadable::Ready(card) => Some(card),
            _ => None,
        };
        let mut picked = None;
        let mut compare = false;
        ui.horizontal(|ui| {
            ui.heading(RichText::new(self.repo.as_str()).strong());
            if self.revision != DEFAULT_REVISION {
                ui.label(RichText::new(format!("@ {}", self.revision)).monospace());
            }
            if ui.small_button("Copy id").clicked() {
                ui.ctx().copy_text(self.repo.to_string());
            }
            if ui.small_button("Open on Hub").clicked() {
                ui.ctx()
                    .open_url(egui::OpenUrl::new_tab(format!("{endpoint}/{}", self.repo)));
            }
            picked = self.revision_picker(ui);
            compare = ui
                .small_button("Add to Compare")
                .on_hover_text("Compare it with other downloaded models, side by side")
                .clicked();
            if self.is_loading() {
                ui.spinner();
            }
        });
        let mut retry = false;
        if let Loadable::Failed(error) = &self.info {
            retry = error_box(ui, error);
        }
        let meta = card.map(|c| &c.card.metadata);
        let task = self.pipeline_tag();
        let library = data
            .and_then(|d| d.info.library_name.clone())
            .or_else(|| meta.and_then(|m| m.library_name.clone()));
        ui.horizontal_wrapped(|ui| {
            let author = data
                .and_then(|d| d.info.author.clone())
                .or_else(|| self.repo.namespace().map(str::to_string));
            let mut facts = Vec::new();
            if let Some(author) = author {
                facts.push(format!("by {author}"));
            }
            if let Some(info) = data.map(|d| &d.info) {
                if let Some(n) = info.parameter_count() {
                    facts.push(format!("{} params", params(n)));
                }
                if let Some(n) = info.downloads {
                    facts.push(format!("{} downloads", count(n)));
                }
                if let Some(n) = info.likes {
                    facts.push(format!("{} likes", count(n)));
                }
                if let Some(when) = &info.last_modified {
                    facts.push(format!(
                        "updated {}",
                        relative_time(when, chrono::Utc::now())
                    ));
                }
            }
            ui.label(facts.join("  ·  "));
        });
        ui.horizontal_wrapped(|ui| {
            if let Some(task) = &task {
                chip(ui, &task_label(task), Color32::from_rgb(80, 140, 230));
            }
            if let Some(library) = &library {
                chip(ui, library, Color32::from_rgb(40, 160, 150));
            }
            match (card, data.and_then(|d| d.info.license())) {
                (Some(card), _) => {
                    license_chip(ui, &card.license);
                }
                (None, Some(id)) => {
                    license_chip(ui, &classify(Some(&id), None, None));
                }
                (None, None) => {}
            }
            if let Some(data) = data {
                gated_badge(ui, data.info.gated);
                if data.from_cache {
                    chip(ui, "From the local cache", Color32::GRAY);
                }
            }
        });
        (retry, picked, compare)
    }

    /// The model's task: the info's pipeline tag, else the card's.
    fn pipeline_tag(&self) -> Option<String> {
        let from_info = match &self.info {
            Loadable::Ready(data) => data.info.pipeline_tag.clone(),
            _ => None,
        };
        from_info.or_else(|| match &self.card {
            Loadable::Ready(card) => card.card.metadata.pipeline_tag.clone(),
            _ => None,
        })
    }

    /// The revision menu (`Revision: main`): branches, then tags; returns the one picked.
    fn revision_picker(&self, ui: &mut egui::Ui) -> Option<String> {
        let names = match &self.refs {
            Loadable::Ready(refs) => refs.names(),
            _ => Vec::new(),
        };
        let mut picked = None;
        ui.add_enabled_ui(!names.is_empty(), |ui| {
            ui.menu_button(format!("Revision: {}", self.revision), |ui| {
                for name in &names {
                    if ui
                        .selectable_label(*name == self.revision, name.as_str())
                        .clicked()
                    {
                        picked = Some(name.clone());
                        ui.close();
                    }
                }
            })
            .response
            .on_hover_text("The branch or tag the Card, Files and Fit tabs show");
        });
        picked
    }
}
