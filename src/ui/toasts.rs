//! Toasts: short messages in the bottom-right corner that go away by themselves.

use eframe::egui::{self, RichText};

/// Seconds a toast stays.
const LIFETIME: f64 = 8.0;

struct Toast {
    text: String,
    error: bool,
    shown_at: Option<f64>,
}

/// The toasts on screen.
#[derive(Default)]
pub struct Toasts {
    toasts: Vec<Toast>,
}

impl Toasts {
    /// Adds an error toast (the same text twice in a row shows once).
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    /// Adds an informational toast.
    pub fn info(&mut self, text: impl Into<String>) {
        self.push(text.into(), false);
    }

    fn push(&mut self, text: String, error: bool) {
        if self.toasts.last().is_some_and(|t| t.text == text) {
            return;
        }
        self.toasts.push(Toast {
            text,
            error,
            shown_at: None,
        });
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
    }

    /// Shows the toasts and drops expired ones; asks for a repaint only while some are shown.
    pub fn show(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        self.toasts
            .retain(|t| t.shown_at.is_none_or(|at| now - at < LIFETIME));
        if self.toasts.is_empty() {
            return;
        }
        let mut dismissed = None;
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -12.0])
            .order(egui::Order::Foreground)
            // Clicks outside the Dismiss buttons reach what is under the toasts.
            .movable(false)
            .sense(egui::Sense::hover())
            .show(ctx, |ui| {
                ui.set_max_width(420.0);
                for (index, toast) in self.toasts.iter_mut().enumerate() {
                    let at = *toast.shown_at.get_or_insert(now);
                    let color = if toast.error {
                        ui.visuals().error_fg_color
                    } else {
                        ui.visuals().text_color()
                    };
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        // Long messages wrap inside the toast instead of running off screen.
                        ui.set_max_width(420.0);
                        ui.add(egui::Label::new(RichText::new(&toast.text).color(color)).wrap());
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Min), |ui| {
                            if ui.small_button("Dismiss").clicked() {
                                dismissed = Some(index);
                            }
                        });
                    });
                    let left = LIFETIME - (now - at);
                    ctx.request_repaint_after(std::time::Duration::from_secs_f64(left.max(0.05)));
                }
            });
        if let Some(index) = dismissed {
            self.toasts.remove(index);
        }
    }
}
