//! Result types (labels, transcript segments, detected boxes) that several parts of the house produce and show: local inference (`infer`),
//! remote inference (`remote`), transcripts (`media`) and the views (`ui`). They live here, on
//! the ground floor, so none of those has to import another to share them.

use serde::Serialize;

/// A label and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    /// The label (config.json `id2label`, or a candidate the user typed).
    pub label: String,
    /// Its probability (softmax, or sigmoid for multi-label models).
    pub score: f32,
}

/// Scores sorted high to low (a stable sort: ties keep the labels' order), cut to `top_k`.
pub fn ranked(labels: &[String], scores: &[f32], top_k: usize) -> Vec<LabelScore> {
    let mut out: Vec<LabelScore> = labels
        .iter()
        .zip(scores)
        .map(|(label, score)| LabelScore {
            label: label.clone(),
            score: *score,
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(top_k);
    out
}

/// A piece of a transcript with its time span in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Start, seconds from the beginning of the audio.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The text (leading space trimmed).
    pub text: String,
}

/// A box's corners in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    /// Left edge.
    pub xmin: f32,
    /// Top edge.
    pub ymin: f32,
    /// Right edge.
    pub xmax: f32,
    /// Bottom edge.
    pub ymax: f32,
}

impl BoundingBox {
    /// The corners as the pipeline reports them (`box.int()`: truncated toward zero), in the
    /// order xmin, ymin, xmax, ymax.
    pub fn pipeline_ints(&self) -> [i32; 4] {
        [self.xmin, self.ymin, self.xmax, self.ymax].map(|v| v as i32)
    }
}

/// One detected object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// The class probability (softmax over all classes, no-object included).
    pub score: f32,
    /// The class name from `id2label`.
    pub label: String,
    /// The class id.
    pub label_id: usize,
    /// Where it is (`box` in transformers' output; `box` is a Rust keyword).
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranked_sorts_high_to_low_and_cuts() {
        let labels = ["a", "b", "c"].map(String::from);
        let top = ranked(&labels, &[0.2, 0.7, 0.1], 2);
        assert_eq!(
            top.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert_eq!(top[0].score, 0.7);
    }
}
