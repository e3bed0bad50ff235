//! The Datasets view: search datasets by text and the Hub's dataset facets (task category,
//! size, modality, format, language, license); a result opens its dataset page.

use eframe::egui::{self, RichText};

use crate::format::count;
use crate::hub::{DatasetInfo, DatasetQuery, SortKey};
use crate::ui::runtime::worker::{Job, Outcome, Reply, Ticket, Worker};

/// Results asked for.
const RESULTS: usize = 50;

/// The Hub's size categories, smallest first.
const SIZES: [&str; 9] = [
    "n<1K",
    "1K<n<10K",
    "10K<n<100K",
    "100K<n<1M",
    "1M<n<10M",
    "10M<n<100M",
    "100M<n<1B",
    "1B<n<10B",
    "n>1T",
];

/// Modalities the Hub tags.
const MODALITIES: [&str; 8] = [
    "text",
    "image",
    "audio",
    "tabular",
    "video",
    "timeseries",
    "3d",
    "geospatial",
];

/// File formats the Hub tags.
const FORMATS: [&str; 8] = [
    "parquet",
    "csv",
    "json",
    "arrow",
    "text",
    "imagefolder",
    "audiofolder",
    "webdataset",
];

/// What the view asks the app to do.
pub enum DatasetSearchAction {
    /// Open this dataset's page.
    Open(String),
}

/// The Datasets view's state.
#[derive(Default)]
pub struct DatasetSearch {
    text: String,
    task: String,
    size: String,
    modality: String,
    format: String,
    language: String,
    license: String,
    pending: Option<Ticket>,
    results: Option<Result<Vec<DatasetInfo>, String>>,
}

impl DatasetSearch {
    /// Takes the reply to the search in flight.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>) {
        let waiting = self.pending.as_ref().map(|t| t.id);
        if reply.as_ref().map(|r| r.id) != waiting || waiting.is_none() {
            return;
        }
        if let Some(Outcome::Datasets(result)) = reply.take().map(|r| r.outcome) {
            self.pending = None;
            self.results = Some(result.map_err(|e| e.to_string()));
        }
    }

    fn query(&self) -> DatasetQuery {
        let one = |value: &str| {
            let value = value.trim();
            if value.is_empty() {
                Vec::new()
            } else {
                vec![value.to_owned()]
            }
        };
        DatasetQuery {
            search: Some(self.text.trim().to_owned()).filter(|s| !s.is_empty()),
            author: None,
            task_categories: one(&self.task),
            size_categories: one(&self.size),
            modalities: one(&self.modality),
            formats: one(&self.format),
            languages: one(&self.language),
            licenses: one(&self.license),
            sort: Some(SortKey::Trending),
            limit: RESULTS,
        }
    }

    fn search(&mut self, worker: &mut Worker) {
        if let Some(ticket) = self.pending.take() {
            ticket.cancel();
        }
        self.pending = Some(worker.submit(Job::SearchDatasets(self.query())));
    }

    /// Shows the view; the first time it searches with no filter.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker) -> Option<DatasetSearchAction> {
        if self.pending.is_none() && self.results.is_none() {
            self.search(worker);
        }
        let mut go = false;
        ui.horizontal(|ui| {
            let label = ui.label("Search datasets");
            let response = ui
                .add(egui::TextEdit::singleline(&mut self.text).desired_width(320.0))
                .labelled_by(label.id);
            go |= response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            go |= ui.button("Search").clicked();
            if self.pending.is_some() {
                ui.spinner();
            }
        });
        ui.horizontal_wrapped(|ui| {
            go |= text_facet(ui, "Task category", &mut self.task);
            go |= picker(ui, "Size", &mut self.size, &SIZES);
            go |= picker(ui, "Modality", &mut self.modality, &MODALITIES);
            go |= picker(ui, "Format", &mut self.format, &FORMATS);
            go |= text_facet(ui, "Language", &mut self.language);
            go |= text_facet(ui, "License", &mut self.license);
        });
        if go {
            self.search(worker);
        }
        ui.separator();
        let mut action = None;
        match &self.results {
            None => {}
            Some(Err(error)) => {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            Some(Ok(list)) if list.is_empty() => {
                ui.label("No dataset matches.");
            }
            Some(Ok(list)) => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        egui::Grid::new("dataset-results")
                            .striped(true)
                            .show(ui, |ui| {
                                for d in list {
                                    if ui.link(RichText::new(&d.id).strong()).clicked() {
                                        action = Some(DatasetSearchAction::Open(d.id.clone()));
                                    }
                                    ui.label(d.facet("task_categories").join(", "));
                                    ui.label(d.facet("size_categories").join(", "));
                                    ui.label(format!(
                                        "{} downloads  ·  {} likes",
                                        count(d.downloads.unwrap_or(0)),
                                        count(d.likes.unwrap_or(0))
                                    ));
                                    ui.end_row();
                                }
                            });
                    });
            }
        }
        action
    }
}

/// A labelled text field; true when Enter was pressed in it.
fn text_facet(ui: &mut egui::Ui, name: &str, value: &mut String) -> bool {
    let label = ui.label(name);
    let response = ui
        .add(egui::TextEdit::singleline(value).desired_width(120.0))
        .labelled_by(label.id);
    response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}

/// A labelled menu of `options` (plus "any"); true when the choice changed.
fn picker(ui: &mut egui::Ui, name: &str, value: &mut String, options: &[&str]) -> bool {
    let before = value.clone();
    let shown = if value.is_empty() {
        "any"
    } else {
        value.as_str()
    };
    egui::ComboBox::from_label(name)
        .selected_text(shown.to_owned())
        .show_ui(ui, |ui| {
            ui.selectable_value(value, String::new(), "any");
            for option in options {
                ui.selectable_value(value, (*option).to_owned(), *option);
            }
        });
    *value != before
}
