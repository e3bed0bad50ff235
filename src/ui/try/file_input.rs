//! A file input for the Try tab's media tasks (images, audio files): files dropped anywhere
//! on the view (highlighted while dragged over it, refused with a clear message when their
//! extension is not accepted), an **Open…** button with a native file dialog (rfd, filtered to
//! the accepted extensions, run on its own thread so the UI never waits on it), and what the
//! clipboard pastes when it holds an image (`egui::Event::PasteImage`).

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, ColorImage, RichText};

use crate::ui::runtime::background::Background;

/// The kind of file an input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accept {
    /// What to call it in messages and the dialog filter ("image", "audio file").
    pub what: &'static str,
    /// Accepted extensions, lower case without the dot.
    pub extensions: &'static [&'static str],
}

impl Accept {
    /// Images in the formats `media` decodes.
    pub const IMAGES: Accept = Accept {
        what: "an image",
        extensions: &crate::media::IMAGE_EXTENSIONS,
    };

    /// Audio files in the formats `media::audio` decodes.
    pub const AUDIO: Accept = Accept {
        what: "an audio file",
        extensions: &crate::media::audio::EXTENSIONS,
    };

    /// Whether `path`'s extension is accepted.
    pub fn accepts(&self, path: &std::path::Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| self.extensions.contains(&e.to_ascii_lowercase().as_str()))
    }

    /// The extensions as ".png, .jpg, …" for messages.
    pub fn list(&self) -> String {
        self.extensions
            .iter()
            .map(|e| format!(".{e}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A pasted image's pixels, refused (with the decoders' own message) when larger than
/// [`crate::media::MAX_PIXELS`].
pub fn pasted_rgba(color: &ColorImage) -> Result<image::RgbaImage, String> {
    let [w, h] = color.size;
    if (w as u64) * (h as u64) > crate::media::MAX_PIXELS {
        return Err(crate::media::MediaError::TooLarge {
            width: w as u32,
            height: h as u32,
        }
        .to_string());
    }
    let rgba: Vec<u8> = color
        .pixels
        .iter()
        .flat_map(|p| p.to_srgba_unmultiplied())
        .collect();
    image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| "the pasted image has no pixels".to_string())
}

/// What the user handed over.
#[derive(Debug, Clone)]
pub enum Picked {
    /// A file on disk (dropped or picked in the dialog).
    File(PathBuf),
    /// A dropped file without a usable path (its bytes), with its name.
    Bytes {
        /// The file name, for display.
        name: String,
        /// The contents.
        bytes: Arc<[u8]>,
    },
    /// An image pasted from the clipboard.
    Pasted(Arc<ColorImage>),
}

/// The input's state: the accepted kind, a dialog in flight, the last refusal.
pub struct FileInput {
    accept: Accept,
    dialog: Option<Background<Option<PathBuf>>>,
    refusal: Option<String>,
}

impl FileInput {
    /// An input taking `accept`'s files.
    pub fn new(accept: Accept) -> FileInput {
        FileInput {
            accept,
            dialog: None,
            refusal: None,
        }
    }

    /// Shows the Open… button (and the last refusal); returns a file the dialog picked.
    pub fn open_button(&mut self, ui: &mut egui::Ui) -> Option<Picked> {
        let mut picked = None;
        if let Some(answer) = self.dialog.as_ref().and_then(Background::poll) {
            self.dialog = None;
            picked = answer.ok().flatten().and_then(|p| self.check(p));
        }
        let open = ui
            .add_enabled(self.dialog.is_none(), egui::Button::new("Open…"))
            .on_hover_text(format!(
                "Pick {} ({})",
                self.accept.what,
                self.accept.list()
            ));
        if open.clicked() {
            // Created here (the UI thread), awaited on another thread: the UI never waits.
            let dialog = rfd::AsyncFileDialog::new()
                .set_title(format!("Open {}", self.accept.what))
                .add_filter(self.accept.what, self.accept.extensions)
                .pick_file();
            self.dialog = Some(Background::spawn_thread(ui.ctx(), move || {
                pollster::block_on(dialog).map(|file| file.path().to_path_buf())
            }));
        }
        picked
    }

    /// Highlights `rect` while files are dragged over the window and returns a dropped or
    /// pasted input. Call once per frame with the area the drop covers.
    pub fn drop_zone(&mut self, ui: &mut egui::Ui, rect: egui::Rect) -> Option<Picked> {
        let (hovered, dropped, pasted) = ui.ctx().input(|i| {
            let pasted = i.events.iter().find_map(|e| match e {
                egui::Event::PasteImage(image) => Some(image.clone()),
                _ => None,
            });
            (
                i.raw.hovered_files.clone(),
                i.raw.dropped_files.clone(),
                pasted,
            )
        });
        if !hovered.is_empty() {
            let fits = hovered
                .iter()
                .all(|f| f.path.as_deref().is_none_or(|p| self.accept.accepts(p)));
            let (color, text) = if fits {
                (
                    ui.visuals().selection.stroke.color,
                    format!("Drop the {} here", self.accept.what),
                )
            } else {
                (
                    ui.visuals().error_fg_color,
                    format!("Not {}: {} only", self.accept.what, self.accept.list()),
                )
            };
            let painter = ui.ctx().layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("file-input-drop"),
            ));
            painter.rect_filled(rect, 6.0, color.gamma_multiply(0.15));
            painter.rect_stroke(
                rect,
                6.0,
                egui::Stroke::new(2.0, color),
                egui::StrokeKind::Inside,
            );
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(20.0),
                color,
            );
        }
        if let Some(image) = pasted {
            self.refusal = None;
            return Some(Picked::Pasted(image));
        }
        let file = dropped.first()?;
        let path = file.path().to_path_buf();
        if path.is_absolute() && path.is_file() {
            return self.check(path);
        }
        let name = path.to_string_lossy().into_owned();
        if !self.accept.accepts(&path) {
            self.refuse(&name);
            return None;
        }
        match file.bytes() {
            Ok(bytes) => Some(Picked::Bytes {
                name,
                bytes: bytes.into(),
            }),
            Err(e) => {
                self.refusal = Some(format!("Could not read {name}: {e}"));
                None
            }
        }
    }

    /// Shows the refusal, if any, in the error colour.
    pub fn show_refusal(&self, ui: &mut egui::Ui) {
        if let Some(message) = &self.refusal {
            ui.label(RichText::new(message).color(ui.visuals().error_fg_color));
        }
    }

    fn check(&mut self, path: PathBuf) -> Option<Picked> {
        if self.accept.accepts(&path) {
            self.refusal = None;
            Some(Picked::File(path))
        } else {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            self.refuse(&name);
            None
        }
    }

    fn refuse(&mut self, name: &str) {
        self.refusal = Some(format!(
            "{name} is not {}: use {}",
            self.accept.what,
            self.accept.list()
        ));
    }
}

/// Asks where to save (a native dialog awaited off the UI thread, suggesting `file_name`,
/// filtered to `extension`) and calls `write` with the chosen path there: `Ok(None)` when the
/// dialog was cancelled.
pub fn save_dialog(
    ctx: &egui::Context,
    title: &str,
    file_name: &str,
    extension: &'static str,
    write: impl FnOnce(&std::path::Path) -> Result<(), String> + Send + 'static,
) -> Background<Result<Option<PathBuf>, String>> {
    let dialog = rfd::AsyncFileDialog::new()
        .set_title(title)
        .set_file_name(file_name)
        .add_filter(extension.to_ascii_uppercase(), &[extension])
        .save_file();
    Background::spawn_thread(ctx, move || {
        let Some(file) = pollster::block_on(dialog) else {
            return Ok(None);
        };
        let path = file.path().to_path_buf();
        write(&path)?;
        Ok(Some(path))
    })
}

/// What a [`save_dialog`] came to, once: `Ok("Saved <path>")`, or why writing failed; `None`
/// while the dialog is open and when it was cancelled.
pub fn poll_save(
    saving: &mut Option<Background<Result<Option<PathBuf>, String>>>,
) -> Option<Result<String, String>> {
    let answer = saving.as_ref()?.poll()?;
    *saving = None;
    match answer.and_then(|saved| saved) {
        Ok(Some(path)) => Some(Ok(format!("Saved {}", path.display()))),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_JPG: Accept = Accept {
        what: "an image",
        extensions: &["png", "jpg"],
    };

    #[test]
    fn extensions_are_checked_case_insensitively() {
        assert!(PNG_JPG.accepts(std::path::Path::new("/x/cat.PNG")));
        assert!(!PNG_JPG.accepts(std::path::Path::new("/x/song.mp3")));
        assert_eq!(PNG_JPG.list(), ".png, .jpg");
        assert!(Accept::AUDIO.accepts(std::path::Path::new("/x/song.mp3")));
        assert!(Accept::IMAGES.accepts(std::path::Path::new("/x/cat.webp")));
        let mut input = FileInput::new(PNG_JPG);
        assert!(input.check("/x/song.mp3".into()).is_none());
        assert_eq!(
            input.refusal.as_deref(),
            Some("song.mp3 is not an image: use .png, .jpg")
        );
        assert!(matches!(
            input.check("/x/a.jpg".into()),
            Some(Picked::File(_))
        ));
        assert_eq!(input.refusal, None);
    }
}
