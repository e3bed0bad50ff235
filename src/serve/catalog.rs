//! `GET /v1/models` and `GET /v1/models/{id}`: the cached models that can run, each GGUF quant
//! of a repository with several as `org/name:FILE.gguf`.

use serde_json::{Value, json};

use super::http::{Exchange, Failure, Reply, blocking};
use super::openai::ApiError;
use crate::infer::cached::runnable;

/// `GET /v1/models`.
pub(crate) async fn list(exchange: &Exchange) -> Result<Reply, Failure> {
    let hub_cache = exchange.shared.config.hub_cache.clone();
    let models = blocking(move || runnable_models(&hub_cache)).await?;
    let note = format!("{} models", models.len());
    Ok(Reply::json(
        &json!({"object": "list", "data": models}),
        None,
        note,
    ))
}

/// `GET /v1/models/{id}`.
pub(crate) async fn retrieve(exchange: &Exchange, id: &str) -> Result<Reply, Failure> {
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8_lossy()
        .into_owned();
    let hub_cache = exchange.shared.config.hub_cache.clone();
    let models = blocking(move || runnable_models(&hub_cache)).await?;
    match models.into_iter().find(|model| model["id"] == id.as_str()) {
        Some(model) => Ok(Reply::json(&model, Some(id), String::new())),
        None => Err(Failure {
            error: ApiError::model_not_found(format!(
                "The model `{id}` is not in the cache, or nothing here can run it"
            )),
            model: Some(id),
        }),
    }
}

/// Every cached model with a task Hubble can run (each GGUF quant of a repository with
/// several on its own), as OpenAI model objects with their tasks.
pub fn runnable_models(hub_cache: &std::path::Path) -> Vec<Value> {
    runnable(hub_cache)
        .into_iter()
        .map(|model| {
            let created = std::fs::metadata(&model.entry.dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            json!({
                "id": model.entry.to_string(),
                "object": "model",
                "created": created,
                "owned_by": model.entry.repo.as_str().split('/').next().unwrap_or(""),
                "tasks": model.tasks,
            })
        })
        .collect()
}
