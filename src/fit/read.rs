//! Everything a memory estimate needs from the Hub for one model: its weights (read from file
//! headers) and its shape (from the GGUF metadata, else `config.json`). Shared by `hubble fit`
//! and the app's Fit tab.

use super::error::FitError;
use super::shape::ModelShape;
use super::weights::{Weights, read_weights};
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
        None => {
            let cached = CachedRepo::new(&client.config().hub_cache, repo)
                .snapshot_file(model.sha.as_deref().unwrap_or("main"), "config.json")
                .filter(|path| path.metadata().is_ok_and(|m| m.len() <= MAX_CONFIG as u64))
                .and_then(|path| std::fs::read(path).ok());
            let fetched = match cached {
                Some(bytes) => Ok(bytes),
                None => client
                    .fetch_file(repo, model.sha.as_deref(), "config.json", MAX_CONFIG)
                    .await
                    .map(|bytes| bytes.to_vec()),
            };
            match fetched {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map(|c| ModelShape::from_config(&c))
                    .unwrap_or_default(),
                Err(HubError::EntryNotFound { .. }) => ModelShape::default(),
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(ModelFit { weights, shape })
}
