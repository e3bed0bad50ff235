//! `POST /v1/embeddings`: one vector per input text, as floats or base64 (little-endian f32,
//! as OpenAI's clients decode it).

use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::http::{Exchange, Failure, Reply, blocking};
use super::openai::ApiError;
use crate::infer::Request;
use crate::infer::tasks::feature_extraction::{
    EmbeddingOutput, EmbeddingRequest, FEATURE_EXTRACTION,
};

#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingBody {
    model: String,
    input: Input,
    encoding_format: Option<String>,
    dimensions: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
    Tokens(serde::de::IgnoredAny),
}

/// `POST /v1/embeddings`.
pub(crate) async fn create(exchange: &Exchange, body: EmbeddingBody) -> Result<Reply, Failure> {
    let model = body.model.clone();
    let failure = |error: ApiError| Failure {
        error,
        model: Some(model.clone()),
    };
    let sentences = match body.input {
        Input::One(text) => vec![text],
        Input::Many(list) if !list.is_empty() => list,
        Input::Many(_) => return Err(failure(ApiError::bad_param("input", "`input` is empty"))),
        Input::Tokens(_) => {
            return Err(failure(ApiError::bad_param(
                "input",
                "`input` must be text (a string or a list of strings), not token ids",
            )));
        }
    };
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(failure(ApiError::bad_param(
                "encoding_format",
                format!("`encoding_format` {other:?}: use float or base64"),
            )));
        }
    };
    let pool = exchange.shared.pool.clone();
    let job_model = body.model.clone();
    let (output, notes) = blocking(move || {
        let request = Request::new(EmbeddingRequest { sentences });
        pool.run_for::<EmbeddingOutput>(&job_model, FEATURE_EXTRACTION, request)
    })
    .await?
    .map_err(failure)?;
    if let Some(wanted) = body.dimensions {
        let have = output.embeddings.first().map_or(0, Vec::len);
        if wanted != have {
            return Err(failure(ApiError::bad_param(
                "dimensions",
                format!("this model's embeddings have {have} dimensions, not {wanted}"),
            )));
        }
    }
    let data: Vec<serde_json::Value> = output
        .embeddings
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let value = json!({
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": output.tokens, "total_tokens": output.tokens},
    });
    let note = format!("{} embeddings{}", data.len(), notes.suffix());
    Ok(Reply::json(&value, Some(body.model), note))
}
