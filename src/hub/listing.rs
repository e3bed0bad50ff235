//! One page of a JSON listing and its `Link: <…>; rel="next"` cursor, shared by the dataset,
//! Space and commit listings.

use reqwest::header;
use url::Url;

use super::http::{HubRequest, read_limited};
use super::search::next_link;
use super::{HubClient, HubError};

/// Largest listing page accepted.
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

impl HubClient {
    /// `GET url` → the page's items and the next page's URL.
    pub(super) async fn json_page<T: serde::de::DeserializeOwned>(
        &self,
        request: HubRequest,
    ) -> Result<(Vec<T>, Option<Url>), HubError> {
        let response = self.send(&request).await?;
        let next = response
            .headers()
            .get_all(header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
            .and_then(|link| response.url().join(&link).ok());
        let url = response.url().to_string();
        let body = read_limited(response, request.timeout, MAX_PAGE_BYTES).await?;
        let items = serde_json::from_slice(&body).map_err(|e| HubError::InvalidResponse {
            url,
            detail: format!("not the JSON list the Hub API sends: {e}"),
        })?;
        Ok((items, next))
    }

    /// Follows pages from `request` until `limit` items are collected (or none are left).
    pub(super) async fn json_pages<T: serde::de::DeserializeOwned>(
        &self,
        request: HubRequest,
        limit: usize,
    ) -> Result<Vec<T>, HubError> {
        let (mut items, mut next) = self.json_page(request.clone()).await?;
        while let Some(url) = next.take().filter(|_| items.len() < limit) {
            let (mut more, after) = self
                .json_page(HubRequest {
                    url,
                    ..request.clone()
                })
                .await?;
            if more.is_empty() {
                break;
            }
            items.append(&mut more);
            next = after;
        }
        items.truncate(limit);
        Ok(items)
    }
}
