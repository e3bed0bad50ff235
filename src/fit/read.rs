//! Everything a memory estimate needs from the Hub for one model: its weights (read from file
//! headers) and its shape (from the GGUF metadata, a diffusers pipeline's unet/ and vae/
//! configs, else `config.json`). Shared by `hubble fit`
//! and the app's Fit tab.

use super::error::FitError;
use super::shape::ModelShape;
use super::weights::{WeightFormat, Weights, read_weights};
use crate::cache::CachedRepo;
use crate::hub::{HubClient, HubError, ModelInfo, RepoId};

/// Largest `config.json` read (real ones are a few kB).
const MAX_CONFIG: usize = 4 << 20;

/// A model's weights and shape.
#[derive(Debug, Clone)]
pub struct ModelFit {
    /// The weights, sized from their headers (or file sizes for pickles).
    pub weights: Weights,
    /// Layers, heads and context (default when the repo says nothing).
    pub shape: ModelShape,
}

/// Reads the weights of `model` (from [`HubClient::model_info`]; `file` picks one weight file
/// instead of the default choice) and its shape: the GGUF file's own metadata, else the
/// repository's `config.json` (a repo without one gets an unknown shape, not an error).
pub async fn read_fit(
    client: &HubClient,
    repo: &RepoId,
    model: &ModelInfo,
    file: Option<&str>,
) -> Result<ModelFit, FitError> {
    let weights = read_weights(client, repo, model, file).await?;
    let shape = match &weights.gguf {
        Some(header) => ModelShape::from_gguf(header),
        None if weights.format == WeightFormat::DiffusersPipeline => {
            let unet = config_json(client, repo, model, "unet/config.json").await?;
            let vae = config_json(client, repo, model, "vae/config.json").await?;
            ModelShape::from_pipeline(&unet, &vae)
        }
        None => {
            let config = config_json(client, repo, model, "config.json").await?;
            if config.is_null() {
                ModelShape::default()
            } else {
                ModelShape::from_config(&config)
            }
        }
    };
    Ok(ModelFit { weights, shape })
}

/// A JSON file of the repository: from the cache when it is there, else fetched; `Null` when
/// the repository has no such file or it isn't JSON (an unknown shape, not an error).
async fn config_json(
    client: &HubClient,
    repo: &RepoId,
    model: &ModelInfo,
    path: &str,
) -> Result<serde_json::Value, FitError> {
    let cached = CachedRepo::new(&client.config().hub_cache, repo)
        .snapshot_file(model.sha.as_deref().unwrap_or("main"), path)
        .filter(|file| file.metadata().is_ok_and(|m| m.len() <= MAX_CONFIG as u64))
        .and_then(|file| std::fs::read(file).ok());
    let fetched = match cached {
        Some(bytes) => Ok(bytes),
        None => client
            .fetch_file(repo, model.sha.as_deref(), path, MAX_CONFIG)
            .await
            .map(|bytes| bytes.to_vec()),
    };
    match fetched {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(HubError::EntryNotFound { .. }) => Ok(serde_json::Value::Null),
        Err(e) => Err(e.into()),
    }
}
