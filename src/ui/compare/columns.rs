//! The answer columns side by side: each model's title, what it cost (load, first token,
//! speed, total, peak memory), its answer (streamed while it runs) and a vote button.

use eframe::egui::{self, Color32, RichText};

use crate::compare::Figures;
use crate::ui::widgets::chip;

/// What one column shows.
pub struct Column<'a> {
    /// `Model A`, or `Model A · org/name` once names show.
    pub title: String,
    /// What loaded (hidden with the name).
    pub loaded: Option<&'a str>,
    /// Where it stands while the comparison runs (`waiting`, a loading step, `answering`).
    pub status: Option<&'a str>,
    /// The answer so far.
    pub answer: &'a str,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
    /// Its figures, once it is done.
    pub figures: Option<&'a Figures>,
    /// Whether it won the vote.
    pub winner: bool,
}

/// Draws the columns; with `voting`, each has a vote button. Returns the position voted for.
pub fn show(ui: &mut egui::Ui, columns: &[Column], voting: bool) -> Option<usize> {
    let mut voted = None;
    if columns.is_empty() {
        return None;
    }
    ui.columns(columns.len(), |uis| {
        for (position, (ui, column)) in uis.iter_mut().zip(columns).enumerate() {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.set_min_height(ui.available_height());
                // Not justified: words keep their spacing, buttons their width.
                ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                    if one(ui, column, voting) {
                        voted = Some(position);
                    }
                });
            });
        }
    });
    voted
}

/// One column; whether its vote button was clicked.
fn one(ui: &mut egui::Ui, column: &Column, voting: bool) -> bool {
    ui.add(egui::Label::new(RichText::new(&column.title).heading().strong()).wrap());
    let mut voted = false;
    if column.winner {
        chip(ui, "Winner", Color32::from_rgb(220, 160, 40));
    } else if voting {
        voted = ui
            .button(format!("Vote for {}", label_of(&column.title)))
            .on_hover_text("This answer is the best; the names show after the vote")
            .clicked();
    }
    if let Some(loaded) = column.loaded {
        ui.add(egui::Label::new(RichText::new(loaded).small().weak()).wrap());
    }
    if let Some(figures) = column.figures {
        egui::Grid::new(("compare-figures", &column.title))
            .num_columns(2)
            .spacing([12.0, 2.0])
            .show(ui, |ui| {
                for (title, value) in figures.cells() {
                    ui.label(RichText::new(title).weak());
                    ui.label(RichText::new(value).strong());
                    ui.end_row();
                }
            });
    }
    if let Some(status) = column.status {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(RichText::new(status).weak());
        });
    }
    if let Some(error) = column.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .id_salt(("compare-answer", &column.title))
        .auto_shrink([false, true])
        .show(ui, |ui| {
            if column.answer.is_empty() && column.status.is_none() && column.error.is_none() {
                ui.label(RichText::new("(no text output)").weak());
            }
            ui.add(egui::Label::new(column.answer).wrap());
        });
    voted
}

/// `Model A` out of `Model A · org/name`.
fn label_of(title: &str) -> &str {
    title.split(" · ").next().unwrap_or(title)
}
