//! Object-detection post-processing shared by DETR and YOLOS, as transformers'
//! `post_process_object_detection` and the `object-detection` pipeline do it: softmax over the
//! classes, the last class (no object) dropped, the best remaining class per query, queries
//! kept when their score is above the threshold (in query order, not sorted), boxes from
//! normalised `(cx, cy, w, h)` to corners in the original image's pixels.

use crate::infer::InferError;
pub use crate::results::{BoundingBox, Detection};

/// Detections from one image's `logits` (`queries × (labels + 1)`, row-major) and `boxes`
/// (`queries × 4`, normalised `cx, cy, w, h`), for an original image of `width × height`
/// pixels. `labels` are the class names in id order, one per class before the no-object one.
pub fn detections(
    logits: &[f32],
    boxes: &[f32],
    labels: &[String],
    threshold: f32,
    (width, height): (u32, u32),
) -> Result<Vec<Detection>, InferError> {
    let classes = labels.len() + 1;
    let queries = boxes.len() / 4;
    if !boxes.len().is_multiple_of(4) || logits.len() != queries * classes {
        return Err(InferError::Model(format!(
            "detection head shapes disagree: {} logits and {} box values for {} labels + no-object",
            logits.len(),
            boxes.len(),
            labels.len()
        )));
    }
    let (w, h) = (width as f32, height as f32);
    let mut out = Vec::new();
    for (row, b) in logits.chunks_exact(classes).zip(boxes.chunks_exact(4)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = row.iter().map(|v| (v - max).exp()).sum();
        // The first best class wins ties, as torch's max does.
        let (label_id, best) =
            row[..classes - 1]
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (i, &v)| {
                        if v > acc.1 { (i, v) } else { acc }
                    },
                );
        let score = (best - max).exp() / total;
        if score > threshold {
            let (cx, cy, bw, bh) = (b[0], b[1], b[2], b[3]);
            out.push(Detection {
                score,
                label: labels[label_id].clone(),
                label_id,
                bbox: BoundingBox {
                    xmin: (cx - 0.5 * bw) * w,
                    ymin: (cy - 0.5 * bh) * h,
                    xmax: (cx + 0.5 * bw) * w,
                    ymax: (cy + 0.5 * bh) * h,
                },
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_confident_queries_in_query_order_with_pixel_corners() {
        let labels = vec!["cat".to_string(), "dog".to_string()];
        // Query 0: no-object wins; query 1: dog; query 2: cat.
        let logits = [0.0, 0.0, 5.0, 0.0, 4.0, 0.0, 3.0, 0.0, 0.0];
        let boxes = [
            0.5, 0.5, 1.0, 1.0, 0.5, 0.25, 0.5, 0.5, 0.125, 0.875, 0.25, 0.25,
        ];
        let found = detections(&logits, &boxes, &labels, 0.5, (200, 100)).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].label.as_str(), found[0].label_id), ("dog", 1));
        let expected = 4f32.exp() / (4f32.exp() + 2.0);
        assert!((found[0].score - expected).abs() < 1e-6);
        assert_eq!(
            found[0].bbox,
            BoundingBox {
                xmin: 50.0,
                ymin: 0.0,
                xmax: 150.0,
                ymax: 50.0
            }
        );
        assert_eq!(found[1].label, "cat");
        assert_eq!(found[1].bbox.pipeline_ints(), [0, 75, 50, 100]);
        assert!(detections(&logits, &boxes[..8], &labels, 0.5, (1, 1)).is_err());
    }

    #[test]
    fn pipeline_ints_truncate_toward_zero() {
        let b = BoundingBox {
            xmin: -0.7,
            ymin: 1.9,
            xmax: 2.5,
            ymax: 3.0,
        };
        assert_eq!(b.pipeline_ints(), [0, 1, 2, 3]);
    }
}
