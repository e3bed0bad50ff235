//! The Hub's three kinds of repository and where each lives in URLs and in the cache.

use serde::{Deserialize, Serialize};

/// Model, dataset or Space: `/api/models/…` vs `/api/datasets/…`, `/{id}/resolve/…` vs
/// `/datasets/{id}/resolve/…`, `models--org--name` vs `datasets--org--name` in the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoType {
    /// A model repository (the default everywhere).
    #[default]
    Model,
    /// A dataset repository.
    Dataset,
    /// A Space (an app).
    Space,
}

impl RepoType {
    /// `models`, `datasets` or `spaces`: the API path segment and the cache folder prefix.
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }

    /// What precedes a repo id in file URLs: nothing for models, `datasets/` or `spaces/`.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }

    /// `model`, `dataset` or `space`, as huggingface_hub's `repo_type` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }

    /// Parses `model`, `dataset` or `space` (also the plurals).
    pub fn parse(text: &str) -> Option<RepoType> {
        match text {
            "model" | "models" => Some(RepoType::Model),
            "dataset" | "datasets" => Some(RepoType::Dataset),
            "space" | "spaces" => Some(RepoType::Space),
            _ => None,
        }
    }

    /// Whether this is [`RepoType::Model`] (serde skips the default in saved queues).
    pub fn is_model(&self) -> bool {
        *self == RepoType::Model
    }
}

#[cfg(test)]
mod tests {
    use super::RepoType;

    #[test]
    fn names_round_trip() {
        for kind in [RepoType::Model, RepoType::Dataset, RepoType::Space] {
            assert_eq!(RepoType::parse(kind.as_str()), Some(kind));
            assert_eq!(RepoType::parse(kind.plural()), Some(kind));
        }
        assert_eq!(RepoType::parse("repo"), None);
        assert_eq!(RepoType::Dataset.url_prefix(), "datasets/");
    }
}
