//! The image tasks of `hubble run`: `--input-file` is decoded as an image (size limits as in the
//! app), `--labels a,b,c` are the zero-shot candidates, and the ranked labels are printed;
//! image-to-text streams the caption (`--prompt` starts it).

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;

use super::exit;
use crate::infer::registry::Task;
use crate::infer::{
    CaptionOutput, CaptionRequest, GenerationParams, ImageLabels, ImageRequest, InferError, Request,
};

/// `--input-file` decoded as an image for `task`.
fn load(task: Task, input_file: Option<&Path>) -> Result<Arc<RgbImage>, InferError> {
    let path = input_file.ok_or_else(|| {
        InferError::InvalidInput(format!("{task} needs an image: pass --input-file IMAGE"))
    })?;
    let image = crate::media::load_image(path).map_err(|e| InferError::file(path, e))?;
    Ok(Arc::new(image))
}

/// The request for an image task from `--input-file`, `--labels` and `--top-k`.
pub fn request(
    task: Task,
    input_file: Option<&Path>,
    labels: Option<&str>,
    top_k: Option<usize>,
) -> Result<Request, InferError> {
    let image = load(task, input_file)?;
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
        image,
        top_k,
        labels,
    }))
}

/// The image-to-text request from `--input-file`, `--prompt` and the sampling flags.
pub fn caption_request(
    input_file: Option<&Path>,
    prompt: Option<&str>,
    params: GenerationParams,
) -> Result<Request, InferError> {
    Ok(Request::Caption(CaptionRequest {
        image: load(Task::ImageToText, input_file)?,
        prompt: prompt.map(String::from),
        params,
    }))
}

/// Ends the streamed caption's line and reports the run on stderr.
pub fn print_caption(caption: &CaptionOutput) {
    println!();
    eprintln!(
        "[{} × {} image, {} tokens at {:.1} tok/s, stop: {:?}]",
        caption.width,
        caption.height,
        caption.generated_tokens,
        caption.decode_tokens_per_s,
        caption.stop_reason
    );
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
