//! Datasets: search with the Hub's dataset facets (`/api/datasets?filter=task_categories:…`)
//! and dataset info (`/api/datasets/{id}/revision/{rev}?blobs=true`).

use serde::{Deserialize, Serialize};

use super::http::HubRequest;
use super::{Gated, HubClient, HubError, RepoId, Sibling, SortKey, encode_revision};

/// A dataset search. Every facet value is sent as a `filter=<facet>:<value>` tag, the way the
/// Hub's dataset page filters; empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetQuery {
    /// Free text matched against ids.
    pub search: Option<String>,
    /// Only this user's or organisation's datasets.
    pub author: Option<String>,
    /// `task_categories:` values (`text-classification`).
    pub task_categories: Vec<String>,
    /// `size_categories:` values (`1K<n<10K`).
    pub size_categories: Vec<String>,
    /// `modality:` values (`text`, `image`, `audio`, `tabular`).
    pub modalities: Vec<String>,
    /// `format:` values (`parquet`, `csv`, `json`).
    pub formats: Vec<String>,
    /// `language:` values (`en`).
    pub languages: Vec<String>,
    /// `license:` values (`mit`).
    pub licenses: Vec<String>,
    /// Order of results (descending).
    pub sort: Option<SortKey>,
    /// How many to return.
    pub limit: usize,
}

impl DatasetQuery {
    /// The query string pairs, in a stable order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        for (key, value) in [("search", &self.search), ("author", &self.author)] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((key, value.to_owned()));
            }
        }
        let facets = [
            ("task_categories", &self.task_categories),
            ("size_categories", &self.size_categories),
            ("modality", &self.modalities),
            ("format", &self.formats),
            ("language", &self.languages),
            ("license", &self.licenses),
        ];
        for (facet, values) in facets {
            for value in values.iter().filter(|v| !v.is_empty()) {
                pairs.push(("filter", format!("{facet}:{value}")));
            }
        }
        if let Some(sort) = self.sort {
            pairs.push(("sort", sort.api_name().to_owned()));
        }
        pairs.push(("limit", self.limit.clamp(1, 1000).to_string()));
        pairs
    }
}

/// A dataset repository as the Hub describes it (listing or info).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// `org/name`.
    pub id: String,
    /// Owner.
    #[serde(default)]
    pub author: Option<String>,
    /// Commit the info describes.
    #[serde(default)]
    pub sha: Option<String>,
    /// Last commit time (RFC 3339).
    #[serde(default, rename(deserialize = "lastModified"))]
    pub last_modified: Option<String>,
    /// Private repository.
    #[serde(default)]
    pub private: Option<bool>,
    /// Gating.
    #[serde(default)]
    pub gated: Gated,
    /// Downloads in the last 30 days.
    #[serde(default)]
    pub downloads: Option<u64>,
    /// Likes.
    #[serde(default)]
    pub likes: Option<u64>,
    /// Tags (`task_categories:…`, `size_categories:…`, `modality:…`, `format:…`, `license:…`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Short description from the card.
    #[serde(default)]
    pub description: Option<String>,
    /// The card's front matter as the Hub parsed it.
    #[serde(default, rename(deserialize = "cardData"))]
    pub card_data: Option<serde_json::Value>,
    /// Files (info only), with sizes.
    #[serde(default)]
    pub siblings: Vec<Sibling>,
}

impl DatasetInfo {
    /// The values of tags `facet:value` (e.g. every `task_categories`).
    pub fn facet(&self, facet: &str) -> Vec<&str> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix(facet)?.strip_prefix(':'))
            .collect()
    }
}

impl HubClient {
    /// Datasets matching `query`.
    pub async fn search_datasets(
        &self,
        query: &DatasetQuery,
    ) -> Result<Vec<DatasetInfo>, HubError> {
        self.ensure_online("searching datasets")?;
        let mut url = self.url("/api/datasets")?;
        url.query_pairs_mut()
            .extend_pairs(query.to_pairs().iter().map(|(k, v)| (*k, v.as_str())));
        self.json_pages(HubRequest::get(self, url), query.limit.clamp(1, 1000))
            .await
    }

    /// Dataset info at `revision` (default `main`), with file sizes.
    pub async fn dataset_info(
        &self,
        repo: &RepoId,
        revision: Option<&str>,
    ) -> Result<DatasetInfo, HubError> {
        let revision = revision.unwrap_or(super::api::DEFAULT_REVISION);
        self.ensure_online(&format!("fetching dataset info for {repo}"))?;
        let path = format!(
            "/api/datasets/{repo}/revision/{}?blobs=true",
            encode_revision(revision)
        );
        let request =
            HubRequest::get(self, self.url(&path)?).about(repo.as_str(), Some(revision), None);
        self.json(&request).await
    }
}

#[cfg(test)]
mod tests {
    use super::DatasetQuery;

    #[test]
    fn facets_become_filter_tags() {
        let query = DatasetQuery {
            search: Some("imdb".into()),
            task_categories: vec!["text-classification".into()],
            size_categories: vec!["1K<n<10K".into()],
            modalities: vec!["text".into()],
            formats: vec!["parquet".into()],
            languages: vec!["en".into()],
            licenses: vec!["mit".into()],
            limit: 5,
            ..DatasetQuery::default()
        };
        let pairs: Vec<String> = query
            .to_pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            pairs,
            [
                "search=imdb",
                "filter=task_categories:text-classification",
                "filter=size_categories:1K<n<10K",
                "filter=modality:text",
                "filter=format:parquet",
                "filter=language:en",
                "filter=license:mit",
                "limit=5",
            ]
        );
    }
}
