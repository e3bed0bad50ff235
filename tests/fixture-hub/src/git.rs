//! `/api/{kind}/{id}/refs` and `/api/{kind}/{id}/commits/{rev}`. No recordings of these exist in
//! the fixtures: the bodies follow the shapes in huggingface_hub's `list_repo_refs` (`GitRefs`:
//! `branches`/`converts`/`tags` of `{name, ref, targetCommit}`) and `list_repo_commits`
//! (`GitCommitInfo`: `id, title, message, authors[{user, avatar}], date`) documentation.

use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::hub::Shared;
use crate::paging;
use crate::repos::StoredRepo;

/// Commits per page of `/commits/{rev}`.
const COMMITS_PAGE: usize = 50;

/// `GET …/refs`: `main` and every other branch, and the tags.
pub(crate) fn refs(repo: &StoredRepo) -> Response {
    let entry = |name: &str, tag: bool, sha: &str| {
        let kind = if tag { "tags" } else { "heads" };
        json!({ "name": name, "ref": format!("refs/{kind}/{name}"), "targetCommit": sha })
    };
    let mut branches = vec![entry("main", false, &repo.sha)];
    let mut tags = Vec::new();
    for revision in &repo.revisions {
        if let Some((name, tag)) = &revision.ref_name {
            let list = if *tag { &mut tags } else { &mut branches };
            list.push(entry(name, *tag, &revision.sha));
        }
    }
    Response::json(
        200,
        &json!({ "branches": branches, "converts": [], "tags": tags }),
    )
}

/// `GET …/commits/{rev}`: the revision's commit, then (for another revision) `main`'s as its
/// parent; newest first, paged with `Link`.
pub(crate) fn commits(
    hub: &Shared,
    request: &Request,
    repo: &StoredRepo,
    at: &StoredRepo,
) -> Response {
    let date = |repo: &StoredRepo| {
        repo.info
            .get("lastModified")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut list = vec![json!({
        "id": at.sha,
        "title": match &at.ref_name {
            Some((name, _)) => format!("Update files for {name}"),
            None => "Upload model files".to_owned(),
        },
        "message": "",
        "authors": [{ "user": crate::USER_NAME, "avatar": "/avatars/hubble-tester.svg" }],
        "date": date(at),
    })];
    if at.sha != repo.sha {
        list.push(json!({
            "id": repo.sha,
            "title": "Initial commit",
            "message": "",
            "authors": [{ "user": crate::USER_NAME, "avatar": "/avatars/hubble-tester.svg" }],
            "date": date(repo),
        }));
    }
    paging::page(&hub.base_url, request, &list, COMMITS_PAGE, Clone::clone)
}
