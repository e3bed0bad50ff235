//! `GET /api/models?…` (and `/api/datasets`, `/api/spaces`): filtering, sorting and paging the
//! catalogue like the Hub, plus the `expand[]` field selection shared with model info.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::http::{Request, Response};
use crate::hub::Shared;
use crate::paging;
use crate::repos::{Facets, RepoKind, StoredRepo};

/// Largest `limit` honoured.
const MAX_LIMIT: usize = 1000;

/// Field names `expand[]` accepts (huggingface_hub's list of model properties).
const EXPANDABLE: &[&str] = &[
    "author",
    "baseModels",
    "cardData",
    "childrenModelCount",
    "config",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "gguf",
    "inference",
    "inferenceProviderMapping",
    "lastModified",
    "library_name",
    "likes",
    "mask_token",
    "model-index",
    "pipeline_tag",
    "private",
    "resourceGroup",
    "safetensors",
    "sha",
    "siblings",
    "spaces",
    "tags",
    "transformersInfo",
    "trendingScore",
    "usedStorage",
    "widgetData",
    "xetEnabled",
];

/// The fields named by `expand[]=` / `expand=` (repeatable, comma-separated allowed);
/// `Err` answers 400 for an unknown one.
pub(crate) fn expand_fields(request: &Request) -> Result<Vec<String>, Response> {
    let mut fields = Vec::new();
    for value in request
        .query_all("expand[]")
        .into_iter()
        .chain(request.query_all("expand"))
    {
        for field in value.split(',').filter(|f| !f.is_empty()) {
            if !EXPANDABLE.contains(&field) {
                return Err(Response::json_error(
                    400,
                    &format!("\"expand\" must be one of [{}]", EXPANDABLE.join(", ")),
                ));
            }
            fields.push(field.to_owned());
        }
    }
    Ok(fields)
}

/// `_id`, `id` and the expanded fields the repo has.
pub(crate) fn expanded(repo: &StoredRepo, fields: &[String], blobs: bool) -> Value {
    let mut out = Map::new();
    for key in ["_id", "id"] {
        if let Some(value) = repo.info.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    for field in fields {
        let value = match field.as_str() {
            "trendingScore" => Some(repo.facets.trending_score.into()),
            "siblings" => Some(repo.siblings(blobs)),
            other => repo.info.get(other).cloned(),
        };
        if let Some(value) = value {
            out.insert(field.clone(), value);
        }
    }
    Value::Object(out)
}

/// The compact entry of a listing (like the recorded list_models bodies); `full` adds the
/// repo-level fields and siblings, `config` the config.
fn entry(repo: &StoredRepo, full: bool, config: bool) -> Value {
    if repo.kind != RepoKind::Model {
        return other_entry(repo, full);
    }
    let mut fields: Vec<String> = [
        "likes",
        "trendingScore",
        "private",
        "downloads",
        "tags",
        "pipeline_tag",
        "library_name",
        "createdAt",
    ]
    .map(str::to_owned)
    .to_vec();
    if full {
        fields.extend(
            [
                "author",
                "sha",
                "lastModified",
                "gated",
                "disabled",
                "siblings",
            ]
            .map(str::to_owned),
        );
    }
    if config {
        fields.push("config".to_owned());
    }
    let mut value = expanded(repo, &fields, false);
    value["modelId"] = repo.id.clone().into();
    value
}

/// A dataset or Space listing entry: the info's fields (shapes of `/api/datasets` and
/// `/api/spaces` from the Hub API docs, not recordings), `cardData` and siblings only when `full`.
fn other_entry(repo: &StoredRepo, full: bool) -> Value {
    let mut out = repo.info.clone();
    if !full {
        out.remove("cardData");
        out.remove("siblings");
    }
    out.insert(
        "trendingScore".to_owned(),
        repo.facets.trending_score.into(),
    );
    Value::Object(out)
}

/// The sort orders the Hub accepts; all descending.
#[derive(Clone, Copy)]
enum Sort {
    Trending,
    Downloads,
    Likes,
    LastModified,
    CreatedAt,
}

/// The parsed query of a listing.
struct Query {
    search: Option<String>,
    author: Option<String>,
    filters: Vec<String>,
    pipeline_tag: Option<String>,
    gated: Option<bool>,
    parameters: Option<(Option<f64>, Option<f64>)>,
    apps: Vec<String>,
    /// `/api/spaces?models=`: Spaces whose `models` list names one of these.
    models: Vec<String>,
    sort: Sort,
    limit: usize,
    expand: Vec<String>,
    full: bool,
    config: bool,
}

fn bad(message: &str) -> Response {
    Response::json_error(400, message)
}

impl Query {
    fn parse(request: &Request, default_limit: usize) -> Result<Query, Response> {
        let first = |key| request.query_first(key).map(str::to_owned);
        let sort = match request.query_first("sort") {
            None | Some("trendingScore") => Sort::Trending,
            Some("downloads") => Sort::Downloads,
            Some("likes") => Sort::Likes,
            Some("lastModified") => Sort::LastModified,
            Some("createdAt") => Sort::CreatedAt,
            Some(_) => {
                return Err(bad(
                    "Invalid sort: must be one of trendingScore, downloads, likes, lastModified, createdAt",
                ));
            }
        };
        let limit = match request.query_first("limit") {
            None => default_limit,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n > 0 => n.min(MAX_LIMIT),
                _ => return Err(bad("\"limit\" must be a positive integer")),
            },
        };
        let gated = match request.query_first("gated") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(bad("\"gated\" must be true or false")),
        };
        let parameters = match request.query_first("num_parameters") {
            None => None,
            Some(text) => Some(
                parse_parameter_range(text)
                    .ok_or_else(|| bad("\"num_parameters\" must look like min:6B,max:128B"))?,
            ),
        };
        let split = |key| {
            request
                .query_all(key)
                .into_iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        Ok(Query {
            search: first("search").filter(|s| !s.is_empty()),
            author: first("author").filter(|s| !s.is_empty()),
            filters: split("filter"),
            pipeline_tag: first("pipeline_tag").filter(|s| !s.is_empty()),
            gated,
            parameters,
            apps: split("apps"),
            models: split("models"),
            sort,
            limit,
            expand: expand_fields(request)?,
            full: request.flag("full"),
            config: request.flag("config"),
        })
    }

    fn matches(&self, repo: &StoredRepo) -> bool {
        let f = &repo.facets;
        let eq =
            |a: &str, b: &Option<String>| b.as_deref().is_some_and(|b| a.eq_ignore_ascii_case(b));
        let has_tag = |tag: &str| {
            f.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
                || eq(tag, &f.library_name)
                || eq(tag, &f.pipeline_tag)
        };
        let author = repo.id.split_once('/').map(|(a, _)| a);
        self.search
            .as_ref()
            .is_none_or(|s| repo.id.to_lowercase().contains(&s.to_lowercase()))
            && self
                .author
                .as_ref()
                .is_none_or(|a| author.is_some_and(|b| a.eq_ignore_ascii_case(b)))
            && self.filters.iter().all(|t| has_tag(t))
            && self
                .pipeline_tag
                .as_ref()
                .is_none_or(|p| eq(p, &f.pipeline_tag))
            && self.gated.is_none_or(|g| g == f.gated)
            && self.parameters.is_none_or(|(min, max)| {
                f.parameters.is_some_and(|n| {
                    let n = n as f64;
                    min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
                })
            })
            && (self.apps.is_empty() || self.apps.iter().any(|app| app_supports(app, f)))
            && (self.models.is_empty() || self.models.iter().any(|m| uses_model(repo, m)))
    }
}

/// Whether a Space's `models` field names `model`.
fn uses_model(repo: &StoredRepo, model: &str) -> bool {
    repo.info
        .get("models")
        .and_then(Value::as_array)
        .is_some_and(|models| models.iter().any(|m| m.as_str() == Some(model)))
}

/// `min:6B,max:128B` (either part optional; units K, M, B, T; decimals allowed).
fn parse_parameter_range(text: &str) -> Option<(Option<f64>, Option<f64>)> {
    let (mut min, mut max) = (None, None);
    for part in text.split(',') {
        let (key, value) = part.split_once(':')?;
        let value = value.trim();
        let (number, unit) = match value.char_indices().last()? {
            (i, c) if c.is_ascii_alphabetic() => (&value[..i], c.to_ascii_uppercase()),
            _ => (value, ' '),
        };
        let scale = match unit {
            ' ' => 1.0,
            'K' => 1e3,
            'M' => 1e6,
            'B' => 1e9,
            'T' => 1e12,
            _ => return None,
        };
        let count = number
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)?
            * scale;
        match key.trim() {
            "min" => min = Some(count),
            "max" => max = Some(count),
            _ => return None,
        }
    }
    (min.is_some() || max.is_some()).then_some((min, max))
}

/// Whether a repo runs in a local app: llama.cpp-family apps need a `gguf` tag, MLX apps an
/// `mlx` tag, vLLM/SGLang/TGI a transformers text- or image-text-to-text model; any other app
/// name must be one of the repo's tags.
fn app_supports(app: &str, f: &Facets) -> bool {
    let tagged = |tag: &str| f.tags.iter().any(|t| t == tag);
    match app {
        "llama.cpp" | "lmstudio" | "ollama" | "jan" | "llamafile" | "localai" | "msty" => {
            tagged("gguf")
        }
        "mlx-lm" | "mlx" => tagged("mlx"),
        "vllm" | "sglang" | "tgi" => {
            f.library_name.as_deref() == Some("transformers")
                && matches!(
                    f.pipeline_tag.as_deref(),
                    Some("text-generation" | "image-text-to-text")
                )
        }
        other => tagged(other),
    }
}

/// Answers `GET /api/models?…`, `/api/datasets?…` or `/api/spaces?…` (`kind`).
pub(crate) fn list_repos(hub: &Shared, request: &Request, kind: RepoKind) -> Response {
    let query = match Query::parse(request, hub.page_size_default) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let mut repos: Vec<Arc<StoredRepo>> = hub
        .state()
        .repos
        .values()
        .filter(|r| r.kind == kind && query.matches(r))
        .cloned()
        .collect();
    repos.sort_by(|a, b| {
        let (fa, fb) = (&a.facets, &b.facets);
        let descending = match query.sort {
            Sort::Trending => fb.trending_score.cmp(&fa.trending_score),
            Sort::Downloads => fb.downloads.cmp(&fa.downloads),
            Sort::Likes => fb.likes.cmp(&fa.likes),
            Sort::LastModified => fb.last_modified.cmp(&fa.last_modified),
            Sort::CreatedAt => fb.created_at.cmp(&fa.created_at),
        };
        descending.then_with(|| a.id.cmp(&b.id))
    });
    paging::page(&hub.base_url, request, &repos, query.limit, |repo| {
        if query.expand.is_empty() {
            entry(repo, query.full, query.config)
        } else {
            expanded(repo, &query.expand, false)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_ranges() {
        assert_eq!(
            parse_parameter_range("min:6B,max:128B"),
            Some((Some(6e9), Some(128e9)))
        );
        assert_eq!(parse_parameter_range("max:0.5m"), Some((None, Some(5e5))));
        assert_eq!(parse_parameter_range("min:100"), Some((Some(100.0), None)));
        assert_eq!(parse_parameter_range("min:6X"), None);
        assert_eq!(parse_parameter_range("6B"), None);
        assert_eq!(parse_parameter_range("avg:6B"), None);
    }
}
