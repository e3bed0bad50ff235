//! The dataset page's preview table: `name (type)` headers, one row per record, long text cut
//! (whole on hover), image cells as thumbnails and audio cells as a compact entry. Viewer images
//! load through the Hub bytes loader ([`crate::ui::runtime::images`], off the UI thread); images embedded in
//! a Parquet file go to egui's bytes cache under a `bytes://` URI and are decoded by the image
//! loader in the background. Audio is not played here: a viewer clip has **Open audio**, which
//! hands its URL to the browser; an embedded clip says it is inside the data file.

use std::sync::atomic::{AtomicU64, Ordering};

use eframe::egui::{self, RichText};

use crate::datasets::{CellMedia, MediaKind, MediaSource, Preview, cell_media, cell_text};
use crate::format::bytes;

/// Characters of a text cell shown before `…`.
const CELL_CHARS: usize = 80;

/// The largest thumbnail, in points.
const THUMBNAIL: egui::Vec2 = egui::vec2(160.0, 96.0);

/// Tells the `bytes://` URIs of one table from another's (a reloaded preview).
static TABLES: AtomicU64 = AtomicU64::new(0);

/// One cell, classified once when the preview arrives.
#[derive(Debug)]
enum Cell {
    Text(String),
    Media(Vec<CellMedia>),
}

/// A preview and its cells, ready to draw every frame (built on the worker runtime: decoding
/// embedded media is not UI-thread work).
#[derive(Debug)]
pub struct PreviewTable {
    /// The preview shown.
    pub preview: Preview,
    cells: Vec<Vec<Cell>>,
    table: u64,
}

impl PreviewTable {
    /// Classifies `preview`'s cells (media found, base64 decoded) once.
    pub fn new(preview: Preview) -> PreviewTable {
        let cells = preview
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&preview.columns)
                    .map(|(value, column)| {
                        let media = cell_media(value, &column.dtype);
                        if media.is_empty() {
                            Cell::Text(cell_text(value, &column.dtype))
                        } else {
                            Cell::Media(media)
                        }
                    })
                    .collect()
            })
            .collect();
        PreviewTable {
            preview,
            cells,
            table: TABLES.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Draws the table.
    pub fn show(&self, ui: &mut egui::Ui) {
        let columns = &self.preview.columns;
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                egui::Grid::new("dataset-preview")
                    .striped(true)
                    .num_columns(columns.len())
                    .show(ui, |ui| {
                        for column in columns {
                            ui.label(
                                RichText::new(format!("{} ({})", column.name, column.dtype))
                                    .strong(),
                            );
                        }
                        ui.end_row();
                        for (r, row) in self.cells.iter().enumerate() {
                            for (c, (cell, column)) in row.iter().zip(columns).enumerate() {
                                match cell {
                                    Cell::Text(text) => text_cell(ui, text),
                                    Cell::Media(media) => {
                                        let alt = format!("{}, row {}", column.name, r + 1);
                                        ui.vertical(|ui| {
                                            for (i, item) in media.iter().enumerate() {
                                                let uri = format!(
                                                    "bytes://hubble-preview/{}/{r}/{c}/{i}",
                                                    self.table
                                                );
                                                media_cell(ui, item, &alt, uri);
                                            }
                                        });
                                    }
                                }
                            }
                            ui.end_row();
                        }
                    });
            });
    }
}

fn text_cell(ui: &mut egui::Ui, text: &str) {
    if text.chars().count() > CELL_CHARS {
        let cut: String = text.chars().take(CELL_CHARS - 1).collect();
        ui.label(format!("{cut}…")).on_hover_text(text);
    } else {
        ui.label(text);
    }
}

/// A thumbnail, or an audio entry; `uri` names embedded bytes for egui's caches.
fn media_cell(ui: &mut egui::Ui, media: &CellMedia, alt: &str, uri: String) {
    let mut facts = Vec::new();
    if let Some(name) = &media.name {
        facts.push(name.clone());
    }
    if let Some((w, h)) = media.size {
        facts.push(format!("{w} × {h}"));
    }
    if let Some(seconds) = media.seconds {
        facts.push(format!("{seconds:.1} s"));
    }
    if let MediaSource::Bytes(data) = &media.source {
        facts.push(bytes(data.len() as u64));
    }
    match media.kind {
        MediaKind::Image => {
            let image = match &media.source {
                MediaSource::Url(url) => egui::Image::from_uri(url.clone()),
                MediaSource::Bytes(data) => {
                    egui::Image::from_bytes(uri, egui::load::Bytes::Shared(data.clone()))
                }
            };
            let response = ui.add(
                image
                    .fit_to_original_size(1.0)
                    .max_size(THUMBNAIL)
                    .alt_text(alt),
            );
            if !facts.is_empty() {
                response.on_hover_text(facts.join(" · "));
            }
        }
        MediaKind::Audio => {
            ui.horizontal(|ui| {
                ui.label(RichText::new("Audio").strong());
                if !facts.is_empty() {
                    ui.label(RichText::new(facts.join(" · ")).small());
                }
                match &media.source {
                    MediaSource::Url(url) => {
                        if ui
                            .button("Open audio")
                            .on_hover_text(format!("Opens {url} in your browser"))
                            .clicked()
                        {
                            ui.ctx().open_url(egui::OpenUrl::new_tab(url.clone()));
                        }
                    }
                    MediaSource::Bytes(_) => {
                        ui.label(RichText::new("inside the data file").small().weak());
                    }
                }
            });
        }
    }
}
