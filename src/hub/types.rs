//! What the Hub's API returns, parsed leniently: unknown fields are ignored and missing ones
//! are `None`, so a Hub that adds or drops fields never breaks Hubble. Serialised (for
//! `--json`) with stable snake_case names.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Whether a repository asks users to accept terms before downloading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gated {
    /// Not gated.
    #[default]
    No,
    /// Gated, access granted automatically once the terms are accepted.
    Auto,
    /// Gated, the authors review each request.
    Manual,
}

impl Gated {
    /// Whether any gate applies.
    pub fn is_gated(self) -> bool {
        self != Gated::No
    }
}

impl<'de> Deserialize<'de> for Gated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("manual") => Gated::Manual,
            serde_json::Value::String(s) if !s.eq_ignore_ascii_case("false") => Gated::Auto,
            serde_json::Value::Bool(true) => Gated::Auto,
            _ => Gated::No,
        })
    }
}

/// Parameter counts the Hub computed from a repo's safetensors files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SafetensorsInfo {
    /// Parameters per dtype, e.g. `{"F32": 110106428}`.
    #[serde(default)]
    pub parameters: BTreeMap<String, u64>,
    /// All parameters.
    #[serde(default)]
    pub total: Option<u64>,
}

/// What the Hub read from a repo's GGUF files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GgufInfo {
    /// Parameters of the model.
    #[serde(default)]
    pub total: Option<u64>,
    /// `general.architecture`, e.g. `llama`.
    #[serde(default)]
    pub architecture: Option<String>,
    /// Trained context length.
    #[serde(default)]
    pub context_length: Option<u64>,
}

/// Git LFS details of a file: its content hash and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LfsInfo {
    /// SHA-256 of the content (the tree API calls it `oid`).
    #[serde(alias = "oid")]
    pub sha256: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// Size of the pointer file stored in git.
    #[serde(default, rename(deserialize = "pointerSize"))]
    pub pointer_size: Option<u64>,
}

/// One file of a repository as listed in model info.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sibling {
    /// Path inside the repository.
    #[serde(rename(deserialize = "rfilename"))]
    pub path: String,
    /// Size in bytes (only with `blobs=true`, or filled from the tree listing).
    #[serde(default)]
    pub size: Option<u64>,
    /// Git blob id.
    #[serde(default, rename(deserialize = "blobId"))]
    pub blob_id: Option<String>,
    /// LFS details, for files stored in LFS.
    #[serde(default)]
    pub lfs: Option<LfsInfo>,
}

/// A model repository as the Hub describes it, from a search listing (few fields) or from
/// model info (many).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Repository id, `org/name`.
    pub id: String,
    /// Owner.
    #[serde(default)]
    pub author: Option<String>,
    /// Commit the info describes.
    #[serde(default)]
    pub sha: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default, rename(deserialize = "createdAt"))]
    pub created_at: Option<String>,
    /// Last commit time (RFC 3339).
    #[serde(default, rename(deserialize = "lastModified"))]
    pub last_modified: Option<String>,
    /// Private repository.
    #[serde(default)]
    pub private: Option<bool>,
    /// Gating.
    #[serde(default)]
    pub gated: Gated,
    /// Disabled by the Hub.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Downloads in the last 30 days.
    #[serde(default)]
    pub downloads: Option<u64>,
    /// Likes.
    #[serde(default)]
    pub likes: Option<u64>,
    /// Trending score.
    #[serde(default, rename(deserialize = "trendingScore"))]
    pub trending_score: Option<f64>,
    /// Task, e.g. `text-generation`.
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    /// Library, e.g. `transformers`.
    #[serde(default)]
    pub library_name: Option<String>,
    /// All tags (library, license:x, language, dataset:x, arxiv:x, ...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Files (model info only).
    #[serde(default)]
    pub siblings: Vec<Sibling>,
    /// Safetensors parameter counts.
    #[serde(default)]
    pub safetensors: Option<SafetensorsInfo>,
    /// GGUF metadata.
    #[serde(default)]
    pub gguf: Option<GgufInfo>,
    /// The model card's front matter as the Hub parsed it.
    #[serde(default, rename(deserialize = "cardData"))]
    pub card_data: Option<serde_json::Value>,
    /// Parts of config.json the Hub exposes.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Bytes of storage the repo uses.
    #[serde(default, rename(deserialize = "usedStorage"))]
    pub used_storage: Option<u64>,
}

impl ModelInfo {
    /// The license id, from the card data or else the `license:` tag.
    pub fn license(&self) -> Option<String> {
        let from_card = self
            .card_data
            .as_ref()
            .and_then(|c| c.get("license"))
            .and_then(|l| match l {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(a) => {
                    a.first().and_then(|v| v.as_str()).map(str::to_string)
                }
                _ => None,
            });
        from_card.or_else(|| {
            self.tags
                .iter()
                .find_map(|t| t.strip_prefix("license:"))
                .map(str::to_string)
        })
    }

    /// Parameter count from safetensors or GGUF metadata, when the Hub knows it.
    pub fn parameter_count(&self) -> Option<u64> {
        self.safetensors
            .as_ref()
            .and_then(|s| s.total)
            .or_else(|| self.gguf.as_ref().and_then(|g| g.total))
    }

    /// Sum of all file sizes, when every file's size is known.
    pub fn total_file_size(&self) -> Option<u64> {
        if self.siblings.is_empty() {
            return None;
        }
        self.siblings.iter().map(|s| s.size).sum()
    }
}

/// One entry of a repository tree listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// `file` or `directory`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Path inside the repository.
    pub path: String,
    /// Size in bytes (the LFS content size for LFS files).
    #[serde(default)]
    pub size: u64,
    /// Git object id.
    #[serde(default)]
    pub oid: Option<String>,
    /// LFS details.
    #[serde(default)]
    pub lfs: Option<LfsInfo>,
}

/// What a `HEAD` on a file's resolve URL says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMetadata {
    /// The commit the revision points to (`X-Repo-Commit`).
    pub commit: Option<String>,
    /// The blob's etag: the sha256 for LFS files (`X-Linked-Etag`), the git blob id otherwise.
    pub etag: Option<String>,
    /// Size in bytes (`X-Linked-Size`, else `Content-Length`).
    pub size: Option<u64>,
    /// Where the content is served from (the redirect target for LFS files).
    pub location: String,
    /// Xet content hash, when the Hub stores the file in Xet.
    pub xet_hash: Option<String>,
}

/// The account behind a token (`/api/whoami-v2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// User or organisation name.
    pub name: String,
    /// `user` or `org`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Full name.
    #[serde(default, rename(deserialize = "fullname"))]
    pub full_name: Option<String>,
}
