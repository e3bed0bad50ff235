//! `/api/{kind}/{id}/discussions`: the Community tab. No recording exists in the fixtures: the
//! body follows huggingface_hub's `get_repo_discussions` documentation (`discussions[{num,
//! author{name, avatarUrl, fullname, type}, repo{name, type}, title, status, createdAt,
//! isPullRequest, numComments, pinned}], count, start, numClosedDiscussions`), 50 per page
//! (`?p=N`).

use serde_json::json;

use crate::http::{Request, Response};
use crate::hub::Shared;
use crate::repos::{RepoKind, StoredRepo};

/// Discussions per page.
const PAGE: usize = 50;

/// Answers `GET …/discussions?p=N` (newest first, like the Hub).
pub(crate) fn discussions(_hub: &Shared, request: &Request, repo: &StoredRepo) -> Response {
    let page: usize = request
        .query_first("p")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let kind = match repo.kind {
        RepoKind::Model => "model",
        RepoKind::Dataset => "dataset",
        RepoKind::Space => "space",
    };
    let created = repo.info.get("createdAt").cloned().unwrap_or_default();
    let all: Vec<_> = repo
        .discussions
        .iter()
        .enumerate()
        .rev()
        .map(|(i, d)| {
            json!({
                "num": i + 1,
                "author": {
                    "name": d.author,
                    "avatarUrl": format!("/avatars/{}.svg", d.author),
                    "fullname": d.author,
                    "type": "user",
                    "isPro": false,
                },
                "repo": { "name": repo.id, "type": kind },
                "title": d.title,
                "status": d.status,
                "createdAt": created,
                "isPullRequest": d.pull_request,
                "numComments": d.comments,
                "pinned": false,
            })
        })
        .collect();
    let closed = repo
        .discussions
        .iter()
        .filter(|d| d.status != "open" && d.status != "draft")
        .count();
    let start = page.saturating_mul(PAGE).min(all.len());
    let end = (start + PAGE).min(all.len());
    Response::json(
        200,
        &json!({
            "discussions": &all[start..end],
            "count": all.len(),
            "start": start,
            "numClosedDiscussions": closed,
        }),
    )
}
