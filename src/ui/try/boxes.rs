//! Detected objects drawn over their image: a labelled rectangle per object above the
//! threshold, the hovered one (on the image or in the list) highlighted and the others faded.

use eframe::egui::{self, Color32, Rect, RichText, Stroke, StrokeKind, pos2, vec2};

use crate::results::Detection;

/// A colour per label, stable across frames.
fn label_color(label: &str) -> Color32 {
    const PALETTE: [Color32; 6] = [
        Color32::from_rgb(240, 90, 60),
        Color32::from_rgb(60, 160, 240),
        Color32::from_rgb(80, 200, 100),
        Color32::from_rgb(220, 100, 220),
        Color32::from_rgb(240, 200, 40),
        Color32::from_rgb(40, 200, 200),
    ];
    let hash = label
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    PALETTE[hash % PALETTE.len()]
}

/// Draws `texture` at `width` points wide with the detections scoring above `threshold` over
/// it; `hovered` (an index into `detections`) is highlighted. Returns the detection under the
/// pointer, if any.
pub fn image_with_boxes(
    ui: &mut egui::Ui,
    texture: &egui::TextureHandle,
    (image_width, image_height): (u32, u32),
    width: f32,
    detections: &[Detection],
    threshold: f32,
    hovered: Option<usize>,
) -> Option<usize> {
    let size = texture.size_vec2();
    let shown = size * (width / size.x);
    let response = ui.add(egui::Image::new(texture).fit_to_exact_size(shown));
    let rect = response.rect;
    let scale = vec2(
        rect.width() / image_width.max(1) as f32,
        rect.height() / image_height.max(1) as f32,
    );
    let painter = ui.painter_at(rect);
    let pointer = response.hover_pos();
    let mut under_pointer = None;
    for (i, d) in detections.iter().enumerate() {
        if d.score <= threshold {
            continue;
        }
        let b = &d.bbox;
        let area = Rect::from_min_max(
            rect.min + vec2(b.xmin * scale.x, b.ymin * scale.y),
            rect.min + vec2(b.xmax * scale.x, b.ymax * scale.y),
        );
        if pointer.is_some_and(|p| area.contains(p)) {
            under_pointer = Some(i);
        }
        let color = label_color(&d.label);
        let faded = hovered.is_some_and(|h| h != i);
        let (color, width) = match (hovered == Some(i), faded) {
            (true, _) => (color, 3.5),
            (_, true) => (color.gamma_multiply(0.35), 1.5),
            _ => (color, 2.0),
        };
        painter.rect_stroke(area, 2.0, Stroke::new(width, color), StrokeKind::Middle);
        let text = format!("{} {:.0}%", d.label, d.score * 100.0);
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(12.0), Color32::BLACK);
        // Above the box, kept inside the image (a box may reach past its edges).
        let tag_size = galley.size() + vec2(6.0, 2.0);
        let tag = Rect::from_min_size(
            pos2(
                area.min
                    .x
                    .clamp(rect.min.x, (rect.max.x - tag_size.x).max(rect.min.x)),
                (area.min.y - tag_size.y).max(rect.min.y),
            ),
            tag_size,
        );
        painter.rect_filled(tag, 2.0, color);
        painter.galley(tag.min + vec2(3.0, 1.0), galley, Color32::BLACK);
    }
    under_pointer
}

/// The detections above `threshold` as a list (score, label, box); returns the hovered row.
pub fn detection_list(
    ui: &mut egui::Ui,
    detections: &[Detection],
    threshold: f32,
) -> Option<usize> {
    let mut hovered = None;
    let shown: Vec<(usize, &Detection)> = detections
        .iter()
        .enumerate()
        .filter(|(_, d)| d.score > threshold)
        .collect();
    ui.label(RichText::new(format!("{} objects above {:.2}", shown.len(), threshold)).strong());
    for (i, d) in shown {
        let b = &d.bbox;
        let row = ui.label(
            RichText::new(format!(
                "{:>5.1}%  {}  [{:.0}, {:.0}, {:.0}, {:.0}]",
                d.score * 100.0,
                d.label,
                b.xmin,
                b.ymin,
                b.xmax,
                b.ymax
            ))
            .color(label_color(&d.label)),
        );
        if row.hovered() {
            hovered = Some(i);
        }
    }
    hovered
}
