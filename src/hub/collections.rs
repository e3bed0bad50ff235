//! Collections: `/api/collections?q=&owner=&item=` (each with its first items) and
//! `/api/collections/{slug}` (every item).

use serde::{Deserialize, Serialize};

use super::http::HubRequest;
use super::{HubClient, HubError, RepoType};

/// Who owns a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionOwner {
    /// User or organisation name.
    #[serde(default)]
    pub name: String,
}

/// The note a curator attached to an item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemNote {
    /// The note as plain text.
    #[serde(default)]
    pub text: String,
}

/// One item of a collection: a model, dataset, Space or paper.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionItem {
    /// `model`, `dataset`, `space` or `paper`.
    #[serde(default, rename = "type")]
    pub item_type: String,
    /// The repo id (or the paper's arXiv id).
    #[serde(default)]
    pub id: String,
    /// Its place in the collection.
    #[serde(default)]
    pub position: u64,
    /// The curator's note.
    #[serde(default)]
    pub note: Option<ItemNote>,
}

impl CollectionItem {
    /// The repo type of a model, dataset or Space item (`None` for papers).
    pub fn repo_type(&self) -> Option<RepoType> {
        RepoType::parse(&self.item_type)
    }
}

/// A collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// `owner/title-id`, what `/api/collections/{slug}` takes.
    #[serde(default)]
    pub slug: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Owner.
    #[serde(default)]
    pub owner: CollectionOwner,
    /// Items (the first few in listings, all from [`HubClient::collection`]).
    #[serde(default)]
    pub items: Vec<CollectionItem>,
    /// Upvotes.
    #[serde(default)]
    pub upvotes: u64,
    /// Last change (RFC 3339).
    #[serde(default, rename(deserialize = "lastUpdated"))]
    pub last_updated: Option<String>,
}

/// A collections search. Empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionQuery {
    /// Text to look for in titles.
    pub search: Option<String>,
    /// Only this user's or organisation's.
    pub owner: Option<String>,
    /// Only those holding this item, as `models/org/name`, `datasets/…`, `spaces/…`.
    pub item: Option<String>,
    /// How many to return (at most 100).
    pub limit: usize,
}

impl HubClient {
    /// Collections matching `query`, most upvoted first.
    pub async fn search_collections(
        &self,
        query: &CollectionQuery,
    ) -> Result<Vec<Collection>, HubError> {
        self.ensure_online("searching collections")?;
        let mut url = self.url("/api/collections")?;
        {
            let mut pairs = url.query_pairs_mut();
            let fields = [
                ("q", &query.search),
                ("owner", &query.owner),
                ("item", &query.item),
            ];
            for (key, value) in fields {
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    pairs.append_pair(key, value);
                }
            }
            pairs.append_pair("sort", "upvotes");
            pairs.append_pair("limit", &query.limit.clamp(1, 100).to_string());
        }
        self.json(&HubRequest::get(self, url)).await
    }

    /// One collection with every item; `slug` is `owner/title-id`.
    pub async fn collection(&self, slug: &str) -> Result<Collection, HubError> {
        self.ensure_online(&format!("fetching the collection {slug}"))?;
        let safe = !slug.is_empty()
            && slug
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
            && slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if !safe {
            return Err(HubError::InvalidInput(format!(
                "{slug:?} is not a collection slug; it looks like owner/title-0123abcd (from \
                 `hubble collections`)."
            )));
        }
        let request = HubRequest::get(self, self.url(&format!("/api/collections/{slug}"))?)
            .about(slug, None, None);
        self.json(&request).await
    }
}
