//! Small shared widgets: chips, the license chip, the gated badge, the inline error box.

use eframe::egui::{self, Color32, RichText};

use crate::card::{License, LicenseFamily, Permission};
use crate::hub::Gated;
use crate::results::LabelScore;

/// Longest chip text; longer ones are cut with `…` (the whole text is the hover text).
const CHIP_MAX_CHARS: usize = 64;

/// A rounded one-line label with a tinted background; it never wraps, so a row of chips in a
/// wrapping layout flows chip by chip.
pub fn chip(ui: &mut egui::Ui, text: &str, color: Color32) -> egui::Response {
    let shown = if text.chars().count() > CHIP_MAX_CHARS {
        let cut: String = text.chars().take(CHIP_MAX_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    };
    // A frame can't wrap by itself in a wrapping layout (it is placed before its size is
    // known): measure the text and start a new row when the chip would run past the edge.
    let galley = egui::WidgetText::from(RichText::new(shown.as_str()).small()).into_galley(
        ui,
        Some(egui::TextWrapMode::Extend),
        f32::INFINITY,
        egui::TextStyle::Small,
    );
    let width = galley.size().x + 14.0;
    let at_row_start = ui.cursor().min.x <= ui.max_rect().min.x + 1.0;
    if ui.layout().main_wrap && !at_row_start && width > ui.available_size_before_wrap().x {
        ui.end_row();
    }
    let response = egui::Frame::new()
        .fill(color.gamma_multiply(0.18))
        .stroke(egui::Stroke::new(1.0, color.gamma_multiply(0.6)))
        .corner_radius(8.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| {
            ui.add(
                egui::Label::new(RichText::new(shown.as_str()).small().color(color))
                    .wrap_mode(egui::TextWrapMode::Extend),
            )
        })
        .inner;
    if shown != text {
        response.on_hover_text(text)
    } else {
        response
    }
}

/// The colour of a license family.
pub fn family_color(family: LicenseFamily) -> Color32 {
    match family {
        LicenseFamily::Permissive | LicenseFamily::PublicDomain => Color32::from_rgb(46, 160, 67),
        LicenseFamily::Copyleft | LicenseFamily::OpenRail => Color32::from_rgb(56, 132, 224),
        LicenseFamily::NonCommercial => Color32::from_rgb(214, 112, 36),
        LicenseFamily::ModelSpecific => Color32::from_rgb(170, 110, 220),
        LicenseFamily::Unknown => Color32::GRAY,
    }
}

/// The text of a license chip: the id as the card writes it (`apache-2.0`), else the name.
pub fn license_text(license: &License) -> String {
    match &license.id {
        Some(id) if id != "other" => id.clone(),
        _ => license.name.clone(),
    }
}

/// A license chip; hovering shows the license name, family and what it allows.
pub fn license_chip(ui: &mut egui::Ui, license: &License) -> egui::Response {
    let text = format!("License: {}", license_text(license));
    chip(ui, &text, family_color(license.family)).on_hover_ui(|ui| {
        ui.strong(&license.name);
        ui.label(format!("Family: {}", license.family.label()));
        let commercial = match license.conditions.commercial_use {
            Permission::Allowed => "allowed",
            Permission::NotAllowed => "not allowed",
            Permission::Conditional => "allowed under conditions",
            Permission::Unknown => "unknown",
        };
        ui.label(format!("Commercial use: {commercial}"));
        for note in &license.conditions.notes {
            ui.label(format!("• {note}"));
        }
        if let Some(link) = &license.link {
            ui.label(RichText::new(link).small().weak());
        }
        ui.label(RichText::new("A summary, not legal advice.").small().weak());
    })
}

/// A badge for gated repositories (nothing for ungated ones).
pub fn gated_badge(ui: &mut egui::Ui, gated: Gated) {
    let text = match gated {
        Gated::No => return,
        Gated::Auto => "Gated (accept terms)",
        Gated::Manual => "Gated (manual approval)",
    };
    chip(ui, text, Color32::from_rgb(220, 160, 30)).on_hover_text(
        "You need to accept the model's terms on the Hub and give Hubble a token to download it.",
    );
}

/// What a failed request shows inline: the client's message and a retry button. Returns whether
/// retry was clicked.
pub fn error_box(ui: &mut egui::Ui, error: &str) -> bool {
    let mut clicked = false;
    egui::Frame::new()
        .fill(ui.visuals().error_fg_color.gamma_multiply(0.12))
        .stroke(egui::Stroke::new(1.0, ui.visuals().error_fg_color))
        .corner_radius(4.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.label(RichText::new(error).color(ui.visuals().error_fg_color));
            clicked = ui.button("Retry").clicked();
        });
    clicked
}

/// The non-empty lines of a text box, trimmed (one input per line).
pub fn nonempty_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Labels with their probabilities as bars (the percentage on the bar, the label beside it),
/// in the order given: the Try tab's classifiers and the Remote tab share it.
pub fn label_bars(ui: &mut egui::Ui, labels: &[LabelScore]) {
    for label in labels {
        ui.horizontal(|ui| {
            ui.add(
                egui::ProgressBar::new(label.score)
                    .desired_width(240.0)
                    .text(format!("{:.1}%", label.score * 100.0)),
            );
            ui.label(&label.label);
        });
    }
}
