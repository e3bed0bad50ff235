//! The Compare view's input for every task but chat: text (one item per line where the task
//! takes several), a file (an image or a recording: a path, or a file dropped on the window),
//! and the task's own options as `hubble run` spells them (`--labels joy,anger`).

use eframe::egui::{self, RichText};

/// What the models of a non-chat task are given.
#[derive(Debug, Default)]
pub struct OtherInput {
    text: String,
    file: String,
    options: String,
}

impl OtherInput {
    /// The text, file and options fields; a file dropped on the window fills the file field.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let dropped = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|file| file.path().to_path_buf())
                .find(|path| path.is_absolute())
        });
        if let Some(path) = dropped {
            self.file = path.display().to_string();
        }
        egui::Grid::new("compare-other-input")
            .num_columns(2)
            .spacing([8.0, 4.0])
            .show(ui, |ui| {
                let text = egui::TextEdit::multiline(&mut self.text).desired_rows(2);
                row(
                    ui,
                    "Input",
                    text,
                    "text; one per line where the task takes several",
                );
                let file = egui::TextEdit::singleline(&mut self.file);
                row(
                    ui,
                    "File",
                    file,
                    "an image or audio file: its path, or drop it on the window",
                );
                let options = egui::TextEdit::singleline(&mut self.options);
                row(
                    ui,
                    "Options",
                    options,
                    "as for hubble run, e.g. --labels joy,anger",
                );
            });
        ui.label(
            RichText::new("Each model gets the same input; a task that needs a file says so.")
                .weak(),
        );
    }

    /// Whether there is anything to give the models.
    pub fn given(&self) -> bool {
        !self.text.trim().is_empty() || !self.file.trim().is_empty()
    }

    /// The input as `hubble run`'s words: `--input` per line, `--input-file`, the options.
    pub fn words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for line in self.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            words.push("--input".to_string());
            words.push(line.to_string());
        }
        if !self.file.trim().is_empty() {
            words.push("--input-file".to_string());
            words.push(self.file.trim().to_string());
        }
        words.extend(self.options.split_whitespace().map(String::from));
        words
    }

    /// The input for the export: the text, then the file and options when given.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.text.trim().to_string()];
        if !self.file.trim().is_empty() {
            parts.push(format!("file: {}", self.file.trim()));
        }
        if !self.options.trim().is_empty() {
            parts.push(format!("options: {}", self.options.trim()));
        }
        parts.retain(|p| !p.is_empty());
        parts.join("\n")
    }
}

/// One labelled row of the input grid: `edit` as wide as the view, with its hint.
fn row(ui: &mut egui::Ui, name: &str, edit: egui::TextEdit<'_>, hint: &str) {
    let label = ui.label(name);
    ui.add(edit.desired_width(ui.available_width()).hint_text(hint))
        .labelled_by(label.id);
    ui.end_row();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_file_and_options_become_runs_words() {
        let input = OtherInput {
            text: "first\n\n second \n".into(),
            file: " /tmp/a.wav ".into(),
            options: "--labels joy,anger".into(),
        };
        assert!(input.given());
        assert_eq!(
            input.words(),
            [
                "--input",
                "first",
                "--input",
                "second",
                "--input-file",
                "/tmp/a.wav",
                "--labels",
                "joy,anger"
            ]
        );
        assert_eq!(
            input.describe(),
            "first\n\n second\nfile: /tmp/a.wav\noptions: --labels joy,anger"
        );
        assert!(!OtherInput::default().given());
    }
}
