//! The Card tab: front matter as chips (never raw YAML), `model-index` as a results table,
//! warnings for malformed front matter, and the Markdown body.

use eframe::egui::{self, Color32, RichText};
use egui_commonmark::{CommonMarkCache, CommonMarkViewer};

use crate::card::CardMetadata;
use crate::ui::runtime::tasks::task_label;
use crate::ui::runtime::worker::CardData;
use crate::ui::widgets::{chip, license_chip};

/// Tags shown before "more".
const TAGS_SHOWN: usize = 16;

/// Where the card's relative links and images point.
pub struct CardLinks {
    /// `<endpoint>/<repo>/resolve/<rev>/`, for images.
    pub resolve_base: String,
    /// `<endpoint>/<repo>/blob/<rev>/`, for links to files.
    pub blob_base: String,
    /// The Hub endpoint, for links to the datasets the card names (opened in the app).
    pub endpoint: String,
}

/// Shows a parsed card. `body` is the Markdown with its HTML already rewritten.
pub fn show(
    ui: &mut egui::Ui,
    data: &CardData,
    body: &str,
    cache: &mut CommonMarkCache,
    links: &CardLinks,
) {
    if data.from_cache {
        ui.label(
            RichText::new("Showing the card from the local cache.")
                .small()
                .weak(),
        );
    }
    for warning in &data.card.warnings {
        ui.label(
            RichText::new(format!("⚠ {warning}"))
                .small()
                .color(ui.visuals().warn_fg_color),
        )
        .on_hover_text(
            "The card's front matter could not be read fully; the text below is complete.",
        );
    }
    metadata_chips(ui, &data.card.metadata, data, &links.endpoint);
    model_index(ui, &data.card.metadata);
    ui.separator();
    let viewer = CommonMarkViewer::new()
        .default_implicit_uri_scheme(&links.resolve_base)
        .max_image_width(Some(900))
        .show_alt_text_on_hover(true);
    viewer.show(ui, cache, body);
    fix_relative_links(ui.ctx(), &links.blob_base);
}

/// Links in cards are often relative (`LICENSE`, `docs/usage.md`): point them at the file on
/// the Hub instead of handing a bare path to the browser. Anchors inside the page are dropped.
fn fix_relative_links(ctx: &egui::Context, blob_base: &str) {
    ctx.output_mut(|output| {
        output.commands.retain_mut(|command| match command {
            egui::OutputCommand::OpenUrl(open) => {
                if open.url.starts_with('#') {
                    return false;
                }
                if !open.url.contains("://") && !open.url.starts_with("mailto:") {
                    open.url = crate::ui::model_page::html::resolve(blob_base, &open.url);
                }
                true
            }
            _ => true,
        });
    });
}

fn metadata_chips(ui: &mut egui::Ui, meta: &CardMetadata, data: &CardData, endpoint: &str) {
    let blue = Color32::from_rgb(80, 140, 230);
    let teal = Color32::from_rgb(40, 160, 150);
    let gray = Color32::from_gray(140);
    ui.horizontal_wrapped(|ui| {
        if meta.license.is_some() || meta.license_name.is_some() {
            license_chip(ui, &data.license);
        }
        if let Some(task) = &meta.pipeline_tag {
            chip(ui, &task_label(task), blue);
        }
        if let Some(library) = &meta.library_name {
            chip(ui, library, teal);
        }
        for language in &meta.language {
            chip(ui, &format!("language: {language}"), gray);
        }
        for dataset in &meta.datasets {
            ui.hyperlink_to(
                RichText::new(format!("dataset: {dataset}")).small(),
                format!("{endpoint}/datasets/{dataset}"),
            )
            .on_hover_text("Open the dataset's page");
        }
        for base in &meta.base_model {
            let relation = meta.base_model_relation.as_deref().unwrap_or("base model");
            chip(ui, &format!("{relation}: {base}"), gray);
        }
    });
    if !meta.tags.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for tag in meta.tags.iter().take(TAGS_SHOWN) {
                chip(ui, tag, gray);
            }
            if meta.tags.len() > TAGS_SHOWN {
                ui.label(RichText::new(format!("+{} more", meta.tags.len() - TAGS_SHOWN)).small())
                    .on_hover_text(meta.tags[TAGS_SHOWN..].join(", "));
            }
        });
    }
    if meta.extra_gated_prompt.is_some() || !meta.extra_gated_fields.is_empty() {
        egui::CollapsingHeader::new("Access terms (gated model)").show(ui, |ui| {
            if let Some(prompt) = &meta.extra_gated_prompt {
                ui.label(prompt);
            }
            for (label, kind) in &meta.extra_gated_fields {
                ui.label(format!("• {label} ({kind})"));
            }
        });
    }
}

fn model_index(ui: &mut egui::Ui, meta: &CardMetadata) {
    if meta.model_index.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("Evaluation results ({})", meta.model_index.len()))
        .default_open(meta.model_index.len() <= 30)
        .show(ui, |ui| {
            egui::ScrollArea::horizontal().show(ui, |ui| {
                egui::Grid::new("model-index")
                    .striped(true)
                    .num_columns(4)
                    .show(ui, |ui| {
                        for title in ["Task", "Dataset", "Metric", "Value"] {
                            ui.strong(title);
                        }
                        ui.end_row();
                        for row in &meta.model_index {
                            let task = row.task_name.clone().or_else(|| row.task_type.clone());
                            let dataset = row.dataset_name.clone().or(row.dataset_type.clone());
                            let dataset = match (&dataset, &row.dataset_split) {
                                (Some(d), Some(split)) => Some(format!("{d} ({split})")),
                                _ => dataset,
                            };
                            let metric = row.metric_name.clone().or(row.metric_type.clone());
                            let mut value = row.value.clone().unwrap_or_default();
                            if row.verified == Some(true) {
                                value.push_str(" ✔");
                            }
                            for cell in [task, dataset, metric] {
                                ui.label(cell.unwrap_or_default());
                            }
                            ui.label(value);
                            ui.end_row();
                        }
                    });
            });
        });
}
