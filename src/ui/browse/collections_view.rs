//! The Collections view: search collections by title, open one to see every item; models and
//! datasets open inside the app, Spaces and papers in the browser.

use eframe::egui::{self, Color32, RichText};

use crate::format::count;
use crate::hub::{Collection, CollectionItem, CollectionQuery, RepoType};
use crate::ui::runtime::worker::{Job, Outcome, Reply, Ticket, Worker};
use crate::ui::widgets::chip;

/// Collections asked for.
const RESULTS: usize = 50;

/// What the view asks the app to do.
pub enum CollectionsAction {
    /// Open a model page.
    OpenModel(String),
    /// Open a dataset page.
    OpenDataset(String),
}

/// The Collections view's state.
#[derive(Default)]
pub struct CollectionsView {
    text: String,
    searching: Option<Ticket>,
    results: Option<Result<Vec<Collection>, String>>,
    opening: Option<Ticket>,
    open: Option<Result<Collection, String>>,
}

impl CollectionsView {
    /// Takes the reply to a search or an opened collection.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>) {
        let Some(id) = reply.as_ref().map(|r| r.id) else {
            return;
        };
        let is = |ticket: &Option<Ticket>| ticket.as_ref().is_some_and(|t| t.id == id);
        if !is(&self.searching) && !is(&self.opening) {
            return;
        }
        match reply.take().map(|r| r.outcome) {
            Some(Outcome::Collections(result)) => {
                self.searching = None;
                self.results = Some(result.map_err(|e| e.to_string()));
            }
            Some(Outcome::Collection(result)) => {
                self.opening = None;
                self.open = Some(result.map_err(|e| e.to_string()));
            }
            _ => {}
        }
    }

    fn search(&mut self, worker: &mut Worker) {
        if let Some(ticket) = self.searching.take() {
            ticket.cancel();
        }
        let query = CollectionQuery {
            search: Some(self.text.trim().to_owned()).filter(|s| !s.is_empty()),
            limit: RESULTS,
            ..CollectionQuery::default()
        };
        self.searching = Some(worker.submit(Job::SearchCollections(query)));
    }

    /// Shows the view; the first time it lists the most upvoted collections.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker) -> Option<CollectionsAction> {
        if self.searching.is_none() && self.results.is_none() {
            self.search(worker);
        }
        let mut go = false;
        ui.horizontal(|ui| {
            let label = ui.label("Search collections");
            let response = ui
                .add(egui::TextEdit::singleline(&mut self.text).desired_width(320.0))
                .labelled_by(label.id);
            go |= response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            go |= ui.button("Find").clicked();
            if self.searching.is_some() || self.opening.is_some() {
                ui.spinner();
            }
        });
        if go {
            self.search(worker);
        }
        ui.separator();
        let endpoint = worker.config().endpoint.clone();
        let mut open_slug = None;
        let mut action = None;
        ui.columns(2, |columns| {
            match &self.results {
                None => {}
                Some(Err(error)) => {
                    columns[0].colored_label(columns[0].visuals().error_fg_color, error);
                }
                Some(Ok(list)) if list.is_empty() => {
                    columns[0].label("No collection matches.");
                }
                Some(Ok(list)) => {
                    for c in list {
                        let ui = &mut columns[0];
                        if ui.link(RichText::new(&c.title).strong()).clicked() {
                            open_slug = Some(c.slug.clone());
                        }
                        ui.label(
                            RichText::new(format!(
                                "by {}  ·  {} upvotes  ·  {} shown items",
                                c.owner.name,
                                count(c.upvotes),
                                c.items.len()
                            ))
                            .small(),
                        );
                        ui.add_space(4.0);
                    }
                }
            }
            match &self.open {
                None => {}
                Some(Err(error)) => {
                    columns[1].colored_label(columns[1].visuals().error_fg_color, error);
                }
                Some(Ok(c)) => action = detail(&mut columns[1], c, &endpoint),
            }
        });
        if let Some(slug) = open_slug {
            self.opening = Some(worker.submit(Job::Collection(slug)));
        }
        action
    }
}

/// One collection with its items; clicking an item opens it.
fn detail(ui: &mut egui::Ui, c: &Collection, endpoint: &str) -> Option<CollectionsAction> {
    ui.heading(&c.title);
    if let Some(description) = c.description.as_deref().filter(|d| !d.is_empty()) {
        ui.label(description);
    }
    let mut action = None;
    for item in &c.items {
        ui.horizontal(|ui| {
            chip(ui, &item.item_type, Color32::from_rgb(80, 140, 230));
            if ui.link(&item.id).clicked() {
                action = open_item(ui, item, endpoint);
            }
            if let Some(note) = &item.note {
                ui.label(RichText::new(&note.text).small().weak());
            }
        });
    }
    action
}

/// Models and datasets open in the app; Spaces and papers in the browser.
fn open_item(ui: &egui::Ui, item: &CollectionItem, endpoint: &str) -> Option<CollectionsAction> {
    match item.repo_type() {
        Some(RepoType::Model) => Some(CollectionsAction::OpenModel(item.id.clone())),
        Some(RepoType::Dataset) => Some(CollectionsAction::OpenDataset(item.id.clone())),
        Some(RepoType::Space) | None => {
            let kind = if item.repo_type().is_some() {
                "spaces"
            } else {
                "papers"
            };
            ui.ctx().open_url(egui::OpenUrl::new_tab(format!(
                "{endpoint}/{kind}/{}",
                item.id
            )));
            None
        }
    }
}
