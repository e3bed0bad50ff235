//! Memory bars of the Fit tab (one per GPU, then the RAM) and the colours of verdicts and
//! search-result fit badges.

use eframe::egui::{self, Color32, RichText, Sense};

use crate::fit::badge::BadgeLevel;
use crate::fit::estimate::gb;
use crate::fit::system::SystemInfo;
use crate::fit::verdict::{DeviceVerdict, Verdict};

/// Height of a bar.
const BAR_HEIGHT: f32 = 18.0;
/// Widest a bar gets.
const BAR_MAX_WIDTH: f32 = 560.0;

const GREEN: Color32 = Color32::from_rgb(46, 160, 67);
const AMBER: Color32 = Color32::from_rgb(214, 150, 30);
const BLUE: Color32 = Color32::from_rgb(56, 132, 224);
const RED: Color32 = Color32::from_rgb(210, 60, 60);

/// The colour of a verdict: green on the GPU, amber split, blue CPU only, red won't fit.
pub fn verdict_color(verdict: Verdict) -> Color32 {
    match verdict {
        Verdict::FitsOnGpu => GREEN,
        Verdict::PartialOffload { .. } => AMBER,
        Verdict::CpuOnly => BLUE,
        Verdict::WontFit => RED,
    }
}

/// The colour of a search-result badge (as [`verdict_color`]).
pub fn badge_color(level: BadgeLevel) -> Color32 {
    match level {
        BadgeLevel::Gpu => GREEN,
        BadgeLevel::Partial => AMBER,
        BadgeLevel::Cpu => BLUE,
        BadgeLevel::TooBig => RED,
    }
}

/// One bar per verdict (the GPUs of `system` in order, then the CPU's RAM), with the verdict
/// and its explanation.
pub fn device_bars(ui: &mut egui::Ui, verdicts: &[DeviceVerdict], system: &SystemInfo) {
    for (index, verdict) in verdicts.iter().enumerate() {
        let (memory, total, available, model) = match system.gpus.get(index) {
            Some(gpu) => {
                let on_gpu = match verdict.verdict {
                    Verdict::FitsOnGpu | Verdict::PartialOffload { .. } => verdict.gpu_bytes,
                    Verdict::CpuOnly | Verdict::WontFit => verdict.needed,
                };
                (
                    "GPU memory",
                    gpu.memory_total,
                    verdict.gpu_available,
                    on_gpu,
                )
            }
            None => (
                "RAM",
                system.memory.total,
                verdict.ram_available,
                verdict.ram_bytes,
            ),
        };
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new(&verdict.device).strong());
            ui.label(
                RichText::new(verdict.verdict.label())
                    .strong()
                    .color(verdict_color(verdict.verdict)),
            );
        });
        let text = format!(
            "{}: this model {} of {} {memory} available ({} total)",
            verdict.device,
            gb(model),
            gb(available),
            gb(total)
        );
        ui.horizontal(|ui| {
            bar(
                ui,
                &text,
                total,
                available,
                model,
                verdict_color(verdict.verdict),
            );
            ui.label(format!(
                "{} of {} available ({} total)",
                gb(model),
                gb(available),
                gb(total)
            ));
        });
        if verdict.gpu_bytes > 0 && verdict.ram_bytes > 0 {
            ui.label(format!("and {} in RAM", gb(verdict.ram_bytes)));
        }
        ui.label(RichText::new(&verdict.explanation).weak());
    }
}

/// A bar as wide as `total`: grey for memory already in use, `color` for the model, a red end
/// when the model runs past what is there. Its accessible label is `label`.
fn bar(ui: &mut egui::Ui, label: &str, total: u64, available: u64, model: u64, color: Color32) {
    let width = ui.available_width().clamp(120.0, BAR_MAX_WIDTH) * 0.6;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, BAR_HEIGHT), Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ProgressIndicator, true, label));
    if !ui.is_rect_visible(rect) {
        return;
    }
    let painter = ui.painter();
    let visuals = ui.visuals();
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    let scale = total.max(1) as f32;
    let x = |b: u64| rect.left() + rect.width() * (b as f32 / scale).min(1.0);
    let in_use = total.saturating_sub(available);
    let busy = egui::Rect::from_x_y_ranges(rect.left()..=x(in_use), rect.y_range());
    painter.rect_filled(busy, 3.0, visuals.weak_text_color().gamma_multiply(0.5));
    let end = in_use.saturating_add(model);
    let used = egui::Rect::from_x_y_ranges(x(in_use)..=x(end), rect.y_range());
    painter.rect_filled(used, 0.0, color);
    if end > total {
        let edge = egui::Rect::from_x_y_ranges(rect.right() - 4.0..=rect.right(), rect.y_range());
        painter.rect_filled(edge, 0.0, RED);
    }
    painter.rect_stroke(
        rect,
        3.0,
        egui::Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        egui::StrokeKind::Inside,
    );
}
