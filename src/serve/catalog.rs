//! `GET /v1/models` and `GET /v1/models/{id}`: the cached models that can run, each GGUF quant
//! of a repository with several as `org/name:FILE.gguf` too.

use serde_json::{Value, json};

use super::http::{Exchange, Failure, Reply, blocking};
use super::openai::ApiError;
use super::pool::ModelName;
use crate::cache::{CachedRepo, cached_models};
use crate::infer::{ModelFacts, registry};

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

/// Every cached model (at `main`) with a task Hubble can run, as OpenAI model objects.
pub fn runnable_models(hub_cache: &std::path::Path) -> Vec<Value> {
    let mut out = Vec::new();
    for cached in cached_models(hub_cache) {
        let Some(dir) = CachedRepo::new(hub_cache, &cached.repo).snapshot_dir("main") else {
            continue;
        };
        let Ok(facts) = ModelFacts::from_dir(&dir) else {
            continue;
        };
        let Some(task) = registry::default_task(&facts) else {
            continue;
        };
        if registry::plan(&facts, Some(task)).is_err() {
            continue;
        }
        let created = cached
            .modified
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let owner = cached
            .repo
            .as_str()
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let mut names = vec![ModelName {
            repo: cached.repo.clone(),
            file: None,
        }];
        let ggufs = facts.gguf_files();
        if ggufs.len() > 1 {
            names.extend(ggufs.into_iter().map(|file| ModelName {
                repo: cached.repo.clone(),
                file: Some(file),
            }));
        }
        for name in names {
            out.push(json!({
                "id": name.id(),
                "object": "model",
                "created": created,
                "owned_by": owner,
                "task": task,
            }));
        }
    }
    out
}
