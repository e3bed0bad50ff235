//! `POST /v1/images/generations`: pictures from a prompt, returned inline as base64 PNGs that
//! carry their prompt and settings.

use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::http::{Exchange, Failure, Reply, blocking};
use super::openai::{ApiError, now};
use crate::infer::Request;
use crate::infer::tasks::text_to_image::{TEXT_TO_IMAGE, TextToImageOutput, TextToImageRequest};

/// Most pictures one request may ask for.
const MOST_PICTURES: usize = 4;

#[derive(Debug, Deserialize)]
pub(crate) struct ImageBody {
    model: String,
    prompt: String,
    n: Option<usize>,
    size: Option<String>,
    response_format: Option<String>,
    seed: Option<u64>,
    negative_prompt: Option<String>,
    /// Denoising steps (not OpenAI's; its `quality` has no meaning here).
    steps: Option<usize>,
    guidance_scale: Option<f64>,
}

/// `POST /v1/images/generations`.
pub(crate) async fn generate(exchange: &Exchange, body: ImageBody) -> Result<Reply, Failure> {
    let model = body.model.clone();
    let failure = |error: ApiError| Failure {
        error,
        model: Some(model.clone()),
    };
    if let Some(format) = body.response_format.as_deref().filter(|f| *f != "b64_json") {
        return Err(failure(ApiError::bad_param(
            "response_format",
            format!(
                "`response_format` {format:?}: this server returns pictures inline; ask for b64_json"
            ),
        )));
    }
    let count = body.n.unwrap_or(1);
    if !(1..=MOST_PICTURES).contains(&count) {
        return Err(failure(ApiError::bad_param(
            "n",
            format!("`n` is between 1 and {MOST_PICTURES}"),
        )));
    }
    let (width, height) = match body.size.as_deref() {
        None | Some("auto") => (None, None),
        Some(size) => {
            let (w, h) = crate::format::parse_picture_size(size).ok_or_else(|| {
                failure(ApiError::bad_param(
                    "size",
                    format!("`size` {size:?}: use WIDTHxHEIGHT, e.g. 512x512"),
                ))
            })?;
            (Some(w as usize), Some(h as usize))
        }
    };
    let mut template = TextToImageRequest::new(body.prompt.clone());
    template.negative_prompt = body.negative_prompt.unwrap_or_default();
    template.steps = body.steps.unwrap_or(template.steps);
    template.guidance = body.guidance_scale.unwrap_or(template.guidance);
    template.width = width;
    template.height = height;
    let first_seed = body.seed.unwrap_or_default();
    let pool = exchange.shared.pool.clone();
    let gone = exchange.gone.clone();
    let job_model = body.model.clone();
    let pictures = blocking(move || {
        let mut pictures = Vec::new();
        let mut all_notes = Vec::new();
        for i in 0..count as u64 {
            if gone.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let request = TextToImageRequest {
                seed: first_seed.wrapping_add(i),
                ..template.clone()
            };
            let (picture, notes) = pool.run_for::<TextToImageOutput>(
                &job_model,
                TEXT_TO_IMAGE,
                Request::new(request),
            )?;
            pictures.push(picture);
            all_notes.push(notes.suffix());
        }
        Ok::<_, ApiError>((pictures, all_notes.concat()))
    })
    .await?;
    let (pictures, notes) = pictures.map_err(failure)?;
    let mut data = Vec::new();
    for picture in &pictures {
        let png = crate::media::png_text::encode(&picture.image, &picture.png_text())
            .map_err(|e| failure(ApiError::server(format!("could not encode the PNG: {e}"))))?;
        data.push(json!({
            "b64_json": base64::engine::general_purpose::STANDARD.encode(png),
            "revised_prompt": picture.prompt,
        }));
    }
    let note = match pictures.first() {
        Some(first) => format!(
            "{} × {}×{} in {:.1} s each{notes}",
            pictures.len(),
            first.width,
            first.height,
            first.seconds
        ),
        None => "no picture (the client went away)".into(),
    };
    Ok(Reply::json(
        &json!({"created": now(), "data": data}),
        Some(body.model),
        note,
    ))
}
