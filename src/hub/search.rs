//! Model search (`/api/models`): every facet the Hub has, and paging through the `Link` cursor.

use url::Url;

use super::http::{HubRequest, read_limited};
use super::{HubClient, HubError, ModelInfo};

/// Largest page the Hub serves.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Largest listing body accepted (a page of 1,000 expanded entries is a few MB).
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// How results are ordered (always descending, as on the Hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Recent popularity (the Hub's default).
    Trending,
    /// Downloads in the last 30 days.
    Downloads,
    /// Likes.
    Likes,
    /// Most recently updated.
    LastModified,
    /// Most recently created.
    CreatedAt,
}

impl SortKey {
    /// Every sort key, in the order menus show them.
    pub const ALL: [SortKey; 5] = [
        SortKey::Trending,
        SortKey::Downloads,
        SortKey::Likes,
        SortKey::LastModified,
        SortKey::CreatedAt,
    ];

    /// The value of the API's `sort` parameter.
    pub fn api_name(self) -> &'static str {
        match self {
            SortKey::Trending => "trendingScore",
            SortKey::Downloads => "downloads",
            SortKey::Likes => "likes",
            SortKey::LastModified => "lastModified",
            SortKey::CreatedAt => "createdAt",
        }
    }

    /// Parses a user-facing or API name (`trending`, `trendingScore`, `updated`, ...).
    pub fn parse(name: &str) -> Option<SortKey> {
        let key = name.to_ascii_lowercase().replace(['-', '_'], "");
        Some(match key.as_str() {
            "trending" | "trendingscore" => SortKey::Trending,
            "downloads" => SortKey::Downloads,
            "likes" => SortKey::Likes,
            "updated" | "lastmodified" | "modified" => SortKey::LastModified,
            "created" | "createdat" | "new" | "newest" => SortKey::CreatedAt,
            _ => return None,
        })
    }
}

/// A model search. Empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelQuery {
    /// Free text matched against repo ids.
    pub search: Option<String>,
    /// Only this user's or organisation's models.
    pub author: Option<String>,
    /// Tags every result must have: a library (`gguf`), `license:mit`, a language code (`en`),
    /// `dataset:x`, or any other tag.
    pub filters: Vec<String>,
    /// Task, e.g. `text-generation`.
    pub pipeline_tag: Option<String>,
    /// Only gated (`true`) or only ungated (`false`) repos.
    pub gated: Option<bool>,
    /// Smallest parameter count, e.g. `500M` or `6B`.
    pub min_params: Option<String>,
    /// Largest parameter count, e.g. `128B`.
    pub max_params: Option<String>,
    /// Apps the model runs in (`llama.cpp`, `ollama`, ...).
    pub apps: Vec<String>,
    /// Order of results.
    pub sort: Option<SortKey>,
    /// Results per page (at most 1,000).
    pub page_size: Option<usize>,
    /// Properties to return (`expand[]`), e.g. `safetensors`, `lastModified`, `gated`.
    pub expand: Vec<String>,
}

/// Properties Hubble asks for in listings: what its result rows show.
pub const LISTING_EXPAND: &[&str] = &[
    "author",
    "downloads",
    "likes",
    "trendingScore",
    "pipeline_tag",
    "library_name",
    "tags",
    "createdAt",
    "lastModified",
    "gated",
    "safetensors",
    "gguf",
];

impl ModelQuery {
    /// A query for `search` text with Hubble's listing properties expanded.
    pub fn text(search: &str) -> ModelQuery {
        ModelQuery {
            search: (!search.trim().is_empty()).then(|| search.trim().to_string()),
            expand: LISTING_EXPAND.iter().map(|s| s.to_string()).collect(),
            ..ModelQuery::default()
        }
    }

    /// Checks values the Hub would reject with an unhelpful error.
    pub fn validate(&self) -> Result<(), HubError> {
        for value in [&self.min_params, &self.max_params].into_iter().flatten() {
            if !is_param_count(value) {
                return Err(HubError::InvalidInput(format!(
                    "{value:?} is not a parameter count; write a number with an optional K, M, B or T, e.g. 500M or 7B."
                )));
            }
        }
        if self.page_size.is_some_and(|n| n == 0 || n > MAX_PAGE_SIZE) {
            return Err(HubError::InvalidInput(format!(
                "The page size must be between 1 and {MAX_PAGE_SIZE}."
            )));
        }
        Ok(())
    }

    /// The query string pairs, in a stable order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &'static str, value: Option<&String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                pairs.push((key, v.clone()));
            }
        };
        push("search", self.search.as_ref());
        push("author", self.author.as_ref());
        push("pipeline_tag", self.pipeline_tag.as_ref());
        for filter in &self.filters {
            push("filter", Some(filter));
        }
        push("gated", self.gated.map(|g| g.to_string()).as_ref());
        let range = match (&self.min_params, &self.max_params) {
            (None, None) => None,
            (Some(min), None) => Some(format!("min:{min}")),
            (None, Some(max)) => Some(format!("max:{max}")),
            (Some(min), Some(max)) => Some(format!("min:{min},max:{max}")),
        };
        push("num_parameters", range.as_ref());
        for app in &self.apps {
            push("apps", Some(app));
        }
        push("sort", self.sort.map(|s| s.api_name().to_string()).as_ref());
        push("limit", self.page_size.map(|n| n.to_string()).as_ref());
        for property in &self.expand {
            push("expand[]", Some(property));
        }
        pairs
    }
}

fn is_param_count(value: &str) -> bool {
    let digits = value.trim_end_matches(['K', 'M', 'B', 'T', 'k', 'm', 'b', 't']);
    digits.len() + 1 >= value.len()
        && !digits.is_empty()
        && digits
            .parse::<f64>()
            .is_ok_and(|n| n.is_finite() && n >= 0.0)
}

/// One page of search results and where the next one is.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPage {
    /// The models on this page.
    pub models: Vec<ModelInfo>,
    /// The next page's URL, from the `Link: <...>; rel="next"` header.
    pub next: Option<Url>,
}

impl HubClient {
    /// Fetches the first page of `query`.
    pub async fn search_models(&self, query: &ModelQuery) -> Result<ModelPage, HubError> {
        query.validate()?;
        if self.config().offline {
            return Err(HubError::Offline {
                what: "searching the Hub".into(),
            });
        }
        let mut url = self.url("/api/models")?;
        url.query_pairs_mut()
            .extend_pairs(query.to_pairs().iter().map(|(k, v)| (*k, v.as_str())));
        self.model_page(url).await
    }

    /// Fetches the page at `next` (a URL from [`ModelPage::next`]).
    pub async fn next_models_page(&self, next: &Url) -> Result<ModelPage, HubError> {
        self.model_page(next.clone()).await
    }

    /// Collects up to `limit` models, following pages as needed.
    pub async fn search_models_up_to(
        &self,
        query: &ModelQuery,
        limit: usize,
    ) -> Result<Vec<ModelInfo>, HubError> {
        let mut page = self.search_models(query).await?;
        let mut models = Vec::new();
        loop {
            models.append(&mut page.models);
            match page.next.take() {
                Some(next) if models.len() < limit => page = self.next_models_page(&next).await?,
                _ => break,
            }
        }
        models.truncate(limit);
        Ok(models)
    }

    async fn model_page(&self, url: Url) -> Result<ModelPage, HubError> {
        let request = HubRequest::get(self, url);
        let response = self.send(&request).await?;
        let next = response
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
            .and_then(|link| response.url().join(&link).ok());
        let final_url = response.url().to_string();
        let body = read_limited(response, request.timeout, MAX_PAGE_BYTES).await?;
        let models = serde_json::from_slice(&body).map_err(|e| HubError::InvalidResponse {
            url: final_url,
            detail: format!("the model list is not valid JSON: {e}"),
        })?;
        Ok(ModelPage { models, next })
    }
}

/// The `rel="next"` target of a `Link` header value (which may list several links, and whose
/// URLs may themselves contain commas).
pub(crate) fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let params = &after[close + 1..];
        let params = &params[..params.find('<').unwrap_or(params.len())];
        let is_next = params.split([';', ',']).any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_facet_becomes_a_query_pair() {
        let query = ModelQuery {
            search: Some("bert".into()),
            author: Some("google".into()),
            filters: vec!["transformers".into(), "license:mit".into(), "en".into()],
            pipeline_tag: Some("fill-mask".into()),
            gated: Some(false),
            min_params: Some("100M".into()),
            max_params: Some("7B".into()),
            apps: vec!["llama.cpp".into()],
            sort: Some(SortKey::Downloads),
            page_size: Some(20),
            expand: vec!["safetensors".into()],
        };
        let pairs = query.to_pairs();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            pairs,
            vec![
                ("search", "bert"),
                ("author", "google"),
                ("pipeline_tag", "fill-mask"),
                ("filter", "transformers"),
                ("filter", "license:mit"),
                ("filter", "en"),
                ("gated", "false"),
                ("num_parameters", "min:100M,max:7B"),
                ("apps", "llama.cpp"),
                ("sort", "downloads"),
                ("limit", "20"),
                ("expand[]", "safetensors"),
            ]
        );
    }

    #[test]
    fn validates_param_counts_and_page_size() {
        for good in ["6B", "500M", "1.5B", "100", "2T", "7b"] {
            let q = ModelQuery {
                min_params: Some(good.into()),
                ..ModelQuery::default()
            };
            assert!(q.validate().is_ok(), "{good}");
        }
        for bad in ["", "B", "6BB", "six", "-1B", "1,000"] {
            let q = ModelQuery {
                max_params: Some(bad.into()),
                ..ModelQuery::default()
            };
            assert!(q.validate().is_err(), "{bad}");
        }
        let q = ModelQuery {
            page_size: Some(1001),
            ..ModelQuery::default()
        };
        assert!(q.validate().is_err());
    }

    #[test]
    fn sort_names_round_trip() {
        for key in SortKey::ALL {
            assert_eq!(SortKey::parse(key.api_name()), Some(key));
        }
        assert_eq!(SortKey::parse("updated"), Some(SortKey::LastModified));
        assert_eq!(SortKey::parse("sideways"), None);
    }

    #[test]
    fn finds_the_next_link() {
        let header = r#"<https://huggingface.co/api/models?cursor=abc&limit=5>; rel="next""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://huggingface.co/api/models?cursor=abc&limit=5")
        );
        let several = r#"<https://x/prev>; rel="prev", <https://x/next>; rel="next""#;
        assert_eq!(next_link(several).as_deref(), Some("https://x/next"));
        assert_eq!(next_link(r#"<https://x/prev>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        let commas = r#"<https://x/api/models?num_parameters=min:1B,max:7B&cursor=c>; rel="next""#;
        assert_eq!(
            next_link(commas).as_deref(),
            Some("https://x/api/models?num_parameters=min:1B,max:7B&cursor=c")
        );
    }
}
