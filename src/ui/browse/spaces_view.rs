//! The Spaces view: search Spaces by name as you type (debounced like the model search), most
//! liked first; each row has the SDK, likes, the last update and a link that opens the Space in
//! the browser (Spaces run on the Hub, not in the app). The model page's Community tab draws its
//! "Spaces using this model" with the same rows.

use eframe::egui::{self, Color32, RichText};

use crate::format::{count, relative_time};
use crate::hub::{SpaceInfo, SpaceQuery};
use crate::ui::browse::search::debounced;
use crate::ui::runtime::worker::{Job, Outcome, Reply, Ticket, Worker};
use crate::ui::widgets::chip;

/// Spaces asked for.
const RESULTS: usize = 50;

/// The Spaces view's state.
pub struct SpacesView {
    text: String,
    /// When (input time) the text last changed; the search runs after the debounce.
    dirty_at: Option<f64>,
    pending: Option<Ticket>,
    results: Option<Result<Vec<SpaceInfo>, String>>,
}

impl Default for SpacesView {
    fn default() -> SpacesView {
        SpacesView {
            text: String::new(),
            // The first showing lists the most liked Spaces at once.
            dirty_at: Some(f64::NEG_INFINITY),
            pending: None,
            results: None,
        }
    }
}

impl SpacesView {
    /// Takes the reply to the search in flight.
    pub fn on_reply(&mut self, reply: &mut Option<Reply>) {
        let waiting = self.pending.as_ref().map(|t| t.id);
        if waiting.is_none() || reply.as_ref().map(|r| r.id) != waiting {
            return;
        }
        if let Some(Outcome::Spaces(result)) = reply.take().map(|r| r.outcome) {
            self.pending = None;
            self.results = Some(result.map_err(|e| e.to_string()));
        }
    }

    fn search(&mut self, worker: &mut Worker) {
        if let Some(ticket) = self.pending.take() {
            ticket.cancel();
        }
        self.dirty_at = None;
        let query = SpaceQuery {
            search: Some(self.text.trim().to_owned()).filter(|s| !s.is_empty()),
            model: None,
            limit: RESULTS,
        };
        self.pending = Some(worker.submit(Job::SearchSpaces(query)));
    }

    /// Shows the view.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker) {
        let now = ui.input(|i| i.time);
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("Search Spaces").strong());
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut self.text)
                        .hint_text("Type a Space name…")
                        .desired_width(320.0),
                )
                .labelled_by(label.id);
            if response.changed() {
                self.dirty_at = Some(now);
            }
            if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                self.dirty_at = Some(f64::NEG_INFINITY);
            }
            if self.pending.is_some() {
                ui.spinner();
            }
        });
        if debounced(ui.ctx(), self.dirty_at, now) {
            self.search(worker);
        }
        ui.separator();
        let endpoint = worker.config().endpoint.clone();
        match &self.results {
            None => {}
            Some(Err(error)) => {
                ui.colored_label(ui.visuals().error_fg_color, error);
            }
            Some(Ok(list)) if list.is_empty() => {
                ui.label("No Space matches.");
            }
            Some(Ok(list)) => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| space_rows(ui, "space-results", list, &endpoint));
            }
        }
    }
}

/// One row per Space: its id (a link to its page in the browser), SDK, likes and last update.
pub fn space_rows(ui: &mut egui::Ui, id: &str, list: &[SpaceInfo], endpoint: &str) {
    let now = chrono::Utc::now();
    egui::Grid::new(id)
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for space in list {
                ui.hyperlink_to(
                    RichText::new(&space.id).strong(),
                    format!("{endpoint}/spaces/{}", space.id),
                )
                .on_hover_text("Open in the browser");
                chip(
                    ui,
                    space.sdk.as_deref().unwrap_or("unknown SDK"),
                    Color32::from_rgb(80, 140, 230),
                );
                ui.label(format!("♥ {}", count(space.likes.unwrap_or(0))));
                let updated = space
                    .last_modified
                    .as_deref()
                    .map(|t| format!("updated {}", relative_time(t, now)))
                    .unwrap_or_default();
                ui.label(RichText::new(updated).weak());
                ui.end_row();
            }
        });
}
