//! What the image tasks share: an image request, ranked labels for an image, and the planning
//! checks every vision model needs (a head, preprocessor_config.json, safetensors).

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use crate::infer::InferError;
use crate::infer::facts::ModelFacts;
use crate::infer::pipeline::{HumanOutput, Task};
use crate::infer::task_module::not_supported;
use crate::results::LabelScore;

/// How many labels the Try tab and `hubble run` show by default.
pub const DEFAULT_TOP_K: usize = 5;

/// One image to classify (decoded already, so the front end decodes it off its own thread and
/// shows the same pixels).
#[derive(Debug, Clone)]
pub struct ImageRequest {
    /// The image, 8-bit RGB.
    pub image: Arc<RgbImage>,
    /// How many labels to return (`None`: [`DEFAULT_TOP_K`]; zero-shot returns every label).
    pub top_k: Option<usize>,
    /// Candidate labels (zero-shot only).
    pub labels: Vec<String>,
}

/// One image's labels, most likely first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageLabels {
    /// The input's width in pixels.
    pub width: u32,
    /// The input's height in pixels.
    pub height: u32,
    /// Labels with scores (softmax; sigmoid for SigLIP), sorted by score.
    pub labels: Vec<LabelScore>,
}

impl HumanOutput for ImageLabels {
    /// The labels, most likely first, as `  97.12%  label`.
    fn write_human(
        &self,
        out: &mut dyn std::io::Write,
        _log: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        writeln!(out, "{} × {} image", self.width, self.height)?;
        super::write_labels(out, &self.labels)
    }
}

/// The files every vision model needs beyond its weights: preprocessor_config.json, and
/// tokenizer.json when `needs_tokenizer`; then safetensors weights.
pub fn check_vision_files(
    facts: &ModelFacts,
    task: Task,
    needs_tokenizer: bool,
) -> Result<(), InferError> {
    let mut needs = vec!["preprocessor_config.json"];
    if needs_tokenizer {
        needs.push("tokenizer.json");
    }
    if let Some(missing) = needs.into_iter().find(|f| !facts.has(f)) {
        return Err(not_supported(
            format!("{} without {missing}", facts.architecture_name()),
            task,
        ));
    }
    if !facts.has_safetensors() {
        return Err(not_supported(
            format!("{} without safetensors weights", facts.architecture_name()),
            task,
        ));
    }
    Ok(())
}
