//! The dataset viewer API (`/splits`, `/first-rows`), served from its own host: the token is
//! not sent there unless it is the endpoint's own origin (the rule of [`HubClient::send`]).

use serde::{Deserialize, Serialize};
use url::Url;

use super::http::HubRequest;
use super::{HubClient, HubError, RepoId};

use crate::config::{DEFAULT_VIEWER_ENDPOINT, VIEWER_ENDPOINT_ENV};

/// The settings that name the viewer's address, for connection errors.
const VIEWER_ADDRESS: &str = "--viewer-endpoint / HUBBLE_VIEWER_ENDPOINT";

/// One config/split pair of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Config name (`default`).
    #[serde(default)]
    pub config: String,
    /// Split name (`train`).
    #[serde(default)]
    pub split: String,
}

#[derive(Deserialize)]
struct Splits {
    #[serde(default)]
    splits: Vec<Split>,
}

/// A column: its name and the viewer's type (`{"dtype": "string", "_type": "Value"}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Column name.
    #[serde(default)]
    pub name: String,
    /// The `datasets` feature type, as JSON.
    #[serde(default, rename = "type")]
    pub feature_type: serde_json::Value,
}

/// One row: column name → cell value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewerRow {
    /// Its index in the split.
    #[serde(default)]
    pub row_idx: u64,
    /// The cells.
    #[serde(default)]
    pub row: serde_json::Map<String, serde_json::Value>,
}

/// What `/first-rows` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstRows {
    /// Columns.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// The first rows (up to 100).
    #[serde(default)]
    pub rows: Vec<ViewerRow>,
}

impl HubClient {
    /// The configs and splits the viewer knows for `dataset`.
    pub async fn dataset_splits(
        &self,
        viewer: &str,
        dataset: &RepoId,
    ) -> Result<Vec<Split>, HubError> {
        let url = viewer_url(viewer, "splits", &[("dataset", dataset.as_str())])?;
        let splits: Splits = self.json(&viewer_request(self, url, dataset)).await?;
        Ok(splits.splits)
    }

    /// The first rows of one split of `dataset`.
    pub async fn first_rows(
        &self,
        viewer: &str,
        dataset: &RepoId,
        split: &Split,
    ) -> Result<FirstRows, HubError> {
        let query = [
            ("dataset", dataset.as_str()),
            ("config", split.config.as_str()),
            ("split", split.split.as_str()),
        ];
        let url = viewer_url(viewer, "first-rows", &query)?;
        self.json(&viewer_request(self, url, dataset)).await
    }
}

/// A request to the viewer about `dataset`.
fn viewer_request(client: &HubClient, url: Url, dataset: &RepoId) -> HubRequest {
    HubRequest::get(client, url)
        .about(dataset.as_str(), None, None)
        .at(VIEWER_ADDRESS)
}

fn viewer_url(viewer: &str, route: &str, query: &[(&str, &str)]) -> Result<Url, HubError> {
    let base = viewer.trim_end_matches('/');
    let mut url = Url::parse(&format!("{base}/{route}"))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            HubError::InvalidInput(format!(
                "The dataset viewer endpoint {viewer:?} is not an http(s) URL; set \
                 --viewer-endpoint or {VIEWER_ENDPOINT_ENV} to something like {DEFAULT_VIEWER_ENDPOINT}."
            ))
        })?;
    url.query_pairs_mut().extend_pairs(query);
    Ok(url)
}
