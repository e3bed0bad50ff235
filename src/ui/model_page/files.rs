//! The Files tab: the repository tree with sizes and LFS badges, the total, and checkboxes to
//! pick files (the selection is kept for downloads), with copy-path and open-on-Hub buttons,
//! and the Download buttons (the picked files, or all).

use std::collections::{BTreeMap, BTreeSet};

use eframe::egui::{self, Color32, RichText};

use crate::format::bytes;
use crate::hub::{ModelInfo, Sibling};
use crate::ui::widgets::chip;

/// A folder of the tree: sub-folders and files, both sorted by name.
#[derive(Default)]
struct Folder<'a> {
    folders: BTreeMap<&'a str, Folder<'a>>,
    files: Vec<&'a Sibling>,
}

impl<'a> Folder<'a> {
    fn build(siblings: &'a [Sibling]) -> Folder<'a> {
        let mut root = Folder::default();
        for sibling in siblings {
            let mut folder = &mut root;
            let mut parts: Vec<&str> = sibling.path.split('/').collect();
            parts.pop();
            for part in parts {
                folder = folder.folders.entry(part).or_default();
            }
            folder.files.push(sibling);
        }
        root
    }

    fn size(&self) -> u64 {
        self.files.iter().filter_map(|f| f.size).sum::<u64>()
            + self.folders.values().map(Folder::size).sum::<u64>()
    }
}

/// Where the buttons point.
pub struct FileLinks<'a> {
    /// `<endpoint>/<repo>/blob/<rev>/`.
    pub blob_base: &'a str,
}

/// Shows the tree; `selected` holds the picked paths. Returns the files to download when a
/// Download button was clicked (empty: the whole repository).
pub fn show(
    ui: &mut egui::Ui,
    info: &ModelInfo,
    selected: &mut BTreeSet<String>,
    links: &FileLinks<'_>,
) -> Option<Vec<String>> {
    if info.siblings.is_empty() {
        ui.label("No files listed.");
        return None;
    }
    let mut download = None;
    let total: u64 = info.siblings.iter().filter_map(|s| s.size).sum();
    let unknown = info.siblings.iter().filter(|s| s.size.is_none()).count();
    let picked: u64 = info
        .siblings
        .iter()
        .filter(|s| selected.contains(&s.path))
        .filter_map(|s| s.size)
        .sum();
    ui.horizontal(|ui| {
        let mut text = format!("{} files, {}", info.siblings.len(), bytes(total));
        if unknown > 0 {
            text.push_str(&format!(" (+{unknown} of unknown size)"));
        }
        ui.strong(text);
        ui.separator();
        ui.label(format!(
            "Selected: {} files, {}",
            selected.len(),
            bytes(picked)
        ));
        if ui.small_button("Select all").clicked() {
            selected.extend(info.siblings.iter().map(|s| s.path.clone()));
        }
        if ui.small_button("Select none").clicked() {
            selected.clear();
        }
        ui.separator();
        let hover = "Into the Hugging Face cache; progress in the Downloads panel (Ctrl+J)";
        if !selected.is_empty() {
            let files = if selected.len() == 1 { "file" } else { "files" };
            if ui
                .button(format!("Download {} picked {files}", selected.len()))
                .on_hover_text(hover)
                .clicked()
            {
                download = Some(selected.iter().cloned().collect());
            }
        }
        if ui.button("Download all").on_hover_text(hover).clicked() {
            download = Some(Vec::new());
        }
    });
    ui.separator();
    let root = Folder::build(&info.siblings);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| folder(ui, &root, "", selected, links));
    download
}

fn folder(
    ui: &mut egui::Ui,
    node: &Folder<'_>,
    prefix: &str,
    selected: &mut BTreeSet<String>,
    links: &FileLinks<'_>,
) {
    for (name, sub) in &node.folders {
        let path = format!("{prefix}{name}/");
        let title = format!("{name}/  ({})", bytes(sub.size()));
        egui::CollapsingHeader::new(title)
            .id_salt(&path)
            .default_open(prefix.is_empty() && sub.files.len() <= 20)
            .show(ui, |ui| folder(ui, sub, &path, selected, links));
    }
    for file in &node.files {
        file_row(ui, file, selected, links);
    }
}

fn file_row(
    ui: &mut egui::Ui,
    file: &Sibling,
    selected: &mut BTreeSet<String>,
    links: &FileLinks<'_>,
) {
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    ui.horizontal(|ui| {
        let mut on = selected.contains(&file.path);
        if ui
            .checkbox(&mut on, name)
            .on_hover_text(&file.path)
            .changed()
        {
            if on {
                selected.insert(file.path.clone());
            } else {
                selected.remove(&file.path);
            }
        }
        let size = file.size.map(bytes).unwrap_or_else(|| "?".into());
        ui.label(RichText::new(size).weak());
        if file.lfs.is_some() {
            chip(ui, "LFS", Color32::from_rgb(120, 120, 220))
                .on_hover_text("Stored with Git LFS (content hash known)");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .small_button("Open on Hub")
                .on_hover_text("Open this file's page in the browser")
                .clicked()
            {
                ui.ctx().open_url(egui::OpenUrl::new_tab(format!(
                    "{}{}",
                    links.blob_base,
                    crate::hub::encode_path(&file.path)
                )));
            }
            if ui
                .small_button("Copy path")
                .on_hover_text(&file.path)
                .clicked()
            {
                ui.ctx().copy_text(file.path.clone());
            }
        });
    });
}
