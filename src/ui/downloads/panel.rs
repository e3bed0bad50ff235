//! The Downloads panel (top bar button, Ctrl+J): every download with its total progress,
//! rate and time left, per-file progress on demand, and Pause / Resume / Cancel / Retry;
//! finished ones show their snapshot folder. It only draws [`Downloads`] and returns what the
//! buttons asked for.

use eframe::egui::{self, RichText};

use crate::format::bytes;
use crate::ui::downloads::{DownloadRow, Downloads, PanelAction, RowState};

/// Draws the panel's contents; returns the clicked actions.
pub fn show(ui: &mut egui::Ui, downloads: &Downloads) -> Vec<PanelAction> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        ui.heading("Downloads");
        let any_finished = downloads.rows().iter().any(|r| r.state.is_finished());
        if ui
            .add_enabled(any_finished, egui::Button::new("Clear finished"))
            .on_hover_text("Remove finished, failed and cancelled downloads from the list")
            .clicked()
        {
            actions.push(PanelAction::ClearFinished);
        }
    });
    ui.separator();
    if downloads.rows().is_empty() {
        ui.label("No downloads. Pick files in a model's Files tab and press Download.");
        return actions;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for row in downloads.rows().iter().rev() {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    row_ui(ui, row, &mut actions);
                });
            }
        });
    actions
}

fn row_ui(ui: &mut egui::Ui, row: &DownloadRow, actions: &mut Vec<PanelAction>) {
    let key = row.key();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(row.spec.repo.as_str()).strong());
        let mut revision = row.spec.revision().to_string();
        if let Some(commit) = &row.commit {
            let short: String = commit.chars().take(7).collect();
            revision.push_str(&format!(" ({short})"));
        }
        ui.label(RichText::new(revision).weak());
    });
    let status = match &row.state {
        RowState::Queued(why) if why.is_empty() => "Queued".to_string(),
        RowState::Queued(why) => format!("Queued: {why}"),
        RowState::Running if row.files.is_empty() => "Listing files…".to_string(),
        RowState::Running => "Downloading".to_string(),
        RowState::Paused => "Paused".to_string(),
        RowState::Done(_) => "Finished".to_string(),
        RowState::Failed(_) => "Failed".to_string(),
        RowState::Cancelled => "Cancelled".to_string(),
    };
    ui.label(status);
    if let Some((done, total)) = row.bytes() {
        let fraction = if total == 0 {
            1.0
        } else {
            done as f32 / total as f32
        };
        ui.add(egui::ProgressBar::new(fraction).text(format!(
            "{} / {}",
            bytes(done),
            bytes(total)
        )));
    }
    if let (Some(p), RowState::Running) = (&row.progress, &row.state) {
        let mut facts = vec![format!("{}/s", bytes(p.bytes_per_sec as u64))];
        if let Some(eta) = p.eta_secs {
            facts.push(format!("{} left", eta_text(eta)));
        }
        facts.push(format!("{}/{} files", p.files_done, p.files_total));
        ui.label(RichText::new(facts.join("  ·  ")).weak());
    }
    if !row.files.is_empty() {
        let complete = row.files.iter().filter(|f| f.done_bytes >= f.size).count();
        egui::CollapsingHeader::new(format!("Files ({complete}/{})", row.files.len()))
            .id_salt(("download-files", key))
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .max_height(220.0)
                    .id_salt(("download-files-scroll", key))
                    .show(ui, |ui| {
                        for file in &row.files {
                            let fraction = if file.size == 0 {
                                1.0
                            } else {
                                file.done_bytes as f32 / file.size as f32
                            };
                            ui.add(egui::ProgressBar::new(fraction).text(format!(
                                "{}  {} / {}",
                                file.path,
                                bytes(file.done_bytes),
                                bytes(file.size)
                            )));
                        }
                    });
            });
    }
    match &row.state {
        RowState::Failed(message) => {
            ui.label(RichText::new(message).color(ui.visuals().error_fg_color));
        }
        RowState::Done(path) => {
            ui.label(
                RichText::new(path.display().to_string())
                    .monospace()
                    .small(),
            );
        }
        _ => {}
    }
    ui.horizontal(|ui| buttons(ui, row, actions));
}

fn buttons(ui: &mut egui::Ui, row: &DownloadRow, actions: &mut Vec<PanelAction>) {
    let key = row.key();
    match &row.state {
        RowState::Running | RowState::Paused => {
            if row.state == RowState::Running {
                if ui.button("Pause").clicked() {
                    actions.push(PanelAction::Pause(key));
                }
            } else if ui.button("Resume").clicked() {
                actions.push(PanelAction::Resume(key));
            }
            if ui
                .button("Cancel")
                .on_hover_text("Stop; the bytes so far stay in the cache for a later resume")
                .clicked()
            {
                actions.push(PanelAction::Cancel(key));
            }
        }
        RowState::Queued(_) => {
            if ui.button("Start").clicked() {
                actions.push(PanelAction::Retry(key));
            }
            if ui.button("Cancel").clicked() {
                actions.push(PanelAction::Cancel(key));
            }
        }
        RowState::Failed(_) | RowState::Cancelled => {
            if ui.button("Retry").clicked() {
                actions.push(PanelAction::Retry(key));
            }
        }
        RowState::Done(path) => {
            if ui
                .button("Open folder")
                .on_hover_text("Open the snapshot folder in the file manager")
                .clicked()
                && let Ok(url) = url::Url::from_directory_path(path)
            {
                ui.ctx().open_url(egui::OpenUrl::new_tab(url.to_string()));
            }
            if ui.button("Copy folder path").clicked() {
                ui.ctx().copy_text(path.display().to_string());
            }
        }
    }
}

/// `42 s`, `3 min 5 s`, `2 h 10 min`.
fn eta_text(secs: f64) -> String {
    let secs = secs.max(0.0).ceil() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::eta_text;

    #[test]
    fn eta_reads_naturally() {
        for (secs, text) in [
            (0.2, "1 s"),
            (59.0, "59 s"),
            (185.0, "3 min 5 s"),
            (7800.0, "2 h 10 min"),
        ] {
            assert_eq!(eta_text(secs), text);
        }
    }
}
