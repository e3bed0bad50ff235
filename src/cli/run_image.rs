//! The image tasks of `hubble run`: `--input-file` is decoded as an image (size limits as in the
//! app), `--labels a,b,c` are the zero-shot candidates, and the ranked labels are printed.

use std::path::Path;
use std::sync::Arc;

use super::exit;
use crate::infer::registry::Task;
use crate::infer::{ImageLabels, ImageRequest, InferError, Request};

/// The request for an image task from `--input-file`, `--labels` and `--top-k`.
pub fn request(
    task: Task,
    input_file: Option<&Path>,
    labels: Option<&str>,
    top_k: Option<usize>,
) -> Result<Request, InferError> {
    let path = input_file.ok_or_else(|| {
        InferError::InvalidInput(format!("{task} needs an image: pass --input-file IMAGE"))
    })?;
    let image = crate::media::load_image(path).map_err(|e| InferError::file(path, e))?;
    let labels: Vec<String> = labels
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if task == Task::ZeroShotImageClassification && labels.is_empty() {
        return Err(InferError::InvalidInput(
            "zero-shot-image-classification needs candidate labels: pass --labels cat,dog,car"
                .into(),
        ));
    }
    Ok(Request::Image(ImageRequest {
        image: Arc::new(image),
        top_k,
        labels,
    }))
}

/// Prints the labels, most likely first, as `  97.12%  label`.
pub fn print(result: &ImageLabels) {
    println!("{} × {} image", result.width, result.height);
    for label in &result.labels {
        println!("  {:>6.2}%  {}", label.score * 100.0, label.label);
    }
}

/// The exit status for a failed image request (bad file or missing labels: usage).
pub fn status(e: &InferError) -> u8 {
    match e {
        InferError::File { .. } | InferError::InvalidInput(_) => exit::USAGE,
        _ => exit::FAILURE,
    }
}
