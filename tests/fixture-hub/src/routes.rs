//! Routing, and the repository endpoints: model info, tree, resolve (with the resolve-cache
//! and CDN flavours) and whoami. Listing lives in [`crate::search`].

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::collections;
use crate::community;
use crate::files;
use crate::git;
use crate::http::{Body, Request, Response};
use crate::hub::Shared;
use crate::paging;
use crate::repos::{Gated, Recorded, RepoKind, StoredFile, StoredRepo};
use crate::search;
use crate::util::{percent_encode, sha1_hex};
use crate::viewer;

/// The name `/api/whoami-v2` reports for the accepted token.
pub const USER_NAME: &str = "hubble-tester";

/// Answers a request that no fault intercepted.
pub(crate) fn route(hub: &Shared, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::json_error(405, "Method not allowed").header("Allow", "GET, HEAD");
    }
    if request
        .bearer()
        .is_some_and(|token| !token.starts_with("hf_"))
    {
        // The Hub rejects a malformed or revoked token on every endpoint.
        return invalid_credentials();
    }
    let expand = request.flag("expand");
    if let Some(recorded) = hub
        .recorded_routes
        .iter()
        .find(|r| r.path == request.path && r.expand == expand)
    {
        return replay(recorded.status, &recorded.response);
    }
    let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["api", "whoami-v2"] => whoami(hub, request),
        ["api", "models"] => search::list_repos(hub, request, RepoKind::Model),
        ["api", "datasets"] => search::list_repos(hub, request, RepoKind::Dataset),
        ["api", "spaces"] => search::list_repos(hub, request, RepoKind::Space),
        ["api", "models", rest @ ..] => repo_api(hub, request, RepoKind::Model, rest),
        ["api", "datasets", rest @ ..] => repo_api(hub, request, RepoKind::Dataset, rest),
        ["api", "spaces", rest @ ..] => repo_api(hub, request, RepoKind::Space, rest),
        ["splits" | "first-rows"] => viewer::route(hub, request),
        ["api", "collections"] => collections::list(request),
        ["api", "collections", slug @ ..] if !slug.is_empty() => collections::get(&slug.join("/")),
        ["datasets", org, name, "resolve", rev, path @ ..] if !path.is_empty() => {
            let target = Target {
                kind: RepoKind::Dataset,
                id: format!("{org}/{name}"),
                rev,
                path: path.join("/"),
                prefix: "/datasets/",
                via_cache: false,
            };
            resolve(hub, request, &target)
        }
        ["api", "resolve-cache", "models", org, name, rev, path @ ..] if !path.is_empty() => {
            let target = Target {
                kind: RepoKind::Model,
                id: format!("{org}/{name}"),
                rev,
                path: path.join("/"),
                prefix: "/api/resolve-cache/models/",
                via_cache: true,
            };
            resolve(hub, request, &target)
        }
        ["cdn", sha] => cdn(hub, request, sha),
        [org, name, "resolve", rev, path @ ..] if !path.is_empty() => {
            let target = Target {
                kind: RepoKind::Model,
                id: format!("{org}/{name}"),
                rev,
                path: path.join("/"),
                prefix: "/",
                via_cache: false,
            };
            resolve(hub, request, &target)
        }
        [name, "resolve", rev, path @ ..] if !path.is_empty() => {
            let target = Target {
                kind: RepoKind::Model,
                id: (*name).to_owned(),
                rev,
                path: path.join("/"),
                prefix: "/",
                via_cache: false,
            };
            resolve(hub, request, &target)
        }
        _ => Response::text(404, "Not Found"),
    }
}

/// A recorded response, replayed with its recorded headers.
fn replay(status: u16, recorded: &Recorded) -> Response {
    let mut response = Response::new(status).body(Body::Bytes(recorded.body.clone()));
    for (name, value) in &recorded.headers {
        response = response.header(name, value);
    }
    response.default_header("Content-Type", "application/json; charset=utf-8")
}

/// What a repo id resolves to.
enum Found {
    Repo(Arc<StoredRepo>),
    Renamed(String),
    Missing,
}

fn find(hub: &Shared, kind: RepoKind, id: &str) -> Found {
    let state = hub.state();
    let key = kind.key(id);
    if let Some(repo) = state.repos.get(&key) {
        Found::Repo(repo.clone())
    } else if let Some(new_key) = state.aliases.get(&key) {
        let new_id = match kind {
            RepoKind::Model => new_key.as_str(),
            other => new_key
                .strip_prefix(other.plural())
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(new_key),
        };
        Found::Renamed(new_id.to_owned())
    } else {
        Found::Missing
    }
}

/// The repo named `id`, or the answer for a renamed (307) or missing (401/404) one. `prefix`
/// is what precedes the id in the request path, to build the redirect.
fn access(
    hub: &Shared,
    request: &Request,
    kind: RepoKind,
    id: &str,
    prefix: &str,
) -> Result<Arc<StoredRepo>, Response> {
    match find(hub, kind, id) {
        Found::Repo(repo) => Ok(repo),
        Found::Renamed(new_id) => {
            let rest = request
                .raw_target
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(id))
                .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
                .unwrap_or_default();
            let location = format!("{prefix}{new_id}{rest}");
            Err(Response::text(
                307,
                &format!("Temporary Redirect. Redirecting to {location}"),
            )
            .header("Location", &location)
            .header("Vary", "Origin, Accept"))
        }
        Found::Missing => Err(repo_not_found(request)),
    }
}

/// 401 for anonymous requests (the Hub hides whether the repo exists), 404 with a token.
fn repo_not_found(request: &Request) -> Response {
    let (status, message) = if request.bearer().is_some() {
        (404, "Repository not found")
    } else {
        (401, "Invalid username or password.")
    };
    let response = Response::json_error(status, message)
        .header("X-Error-Code", "RepoNotFound")
        .header("X-Error-Message", message);
    if status == 401 {
        response.header(
            "WWW-Authenticate",
            "Bearer realm=\"Authentication required\", charset=\"UTF-8\"",
        )
    } else {
        response
    }
}

fn revision_not_found(rev: &str) -> Response {
    let message = format!("Invalid rev id: {rev}");
    Response::json_error(404, &message)
        .header("X-Error-Code", "RevisionNotFound")
        .header("X-Error-Message", &message)
}

fn entry_not_found(json: bool) -> Response {
    let response = if json {
        Response::json_error(404, "Entry not found")
    } else {
        Response::text(404, "Entry not found")
    };
    response
        .header("X-Error-Code", "EntryNotFound")
        .header("X-Error-Message", "Entry not found")
}

/// Checks access to a gated repo's files: the accepted token passes; another token is a user
/// without access (403); no token asks to log in (401).
fn gate(hub: &Shared, request: &Request, repo: &StoredRepo) -> Result<(), Response> {
    if repo.gated == Gated::No {
        return Ok(());
    }
    let id = &repo.id;
    match request.bearer() {
        Some(token) if hub.require_token.as_deref() == Some(token) => Ok(()),
        Some(_) => {
            let message = format!(
                "Access to model {id} is restricted and you are not in the authorized list. \
                 Visit {}/{id} to ask for access.",
                hub.base_url
            );
            Err(Response::json_error(403, &message)
                .header("X-Error-Code", "GatedRepo")
                .header("X-Error-Message", &message))
        }
        None => {
            let message = format!(
                "Access to model {id} is restricted. You must have access to it and be \
                 authenticated to access it. Please log in."
            );
            Err(Response::text(401, &message)
                .header("X-Error-Code", "GatedRepo")
                .header("X-Error-Message", &message)
                .header(
                    "WWW-Authenticate",
                    "Bearer realm=\"Authentication required\", charset=\"UTF-8\"",
                ))
        }
    }
}

/// `/api/{kind}/{id}[/revision/{rev} | /tree/{rev}[/{path}] | /refs | /commits/{rev} |
/// /discussions]`; model ids without an org are legacy ids (`bert-base-uncased`).
fn repo_api(hub: &Shared, request: &Request, kind: RepoKind, rest: &[&str]) -> Response {
    let (id, tail) = match rest {
        [] | [""] => return Response::text(404, "Not Found"),
        [name] => ((*name).to_owned(), &rest[1..]),
        [
            name,
            "revision" | "tree" | "refs" | "commits" | "discussions",
            ..,
        ] if !matches!(find(hub, kind, name), Found::Missing) => ((*name).to_owned(), &rest[1..]),
        [org, name, ..] => (format!("{org}/{name}"), &rest[2..]),
    };
    let prefix = format!("/api/{}/", kind.plural());
    let repo = match access(hub, request, kind, &id, &prefix) {
        Ok(repo) => repo,
        Err(response) => return response,
    };
    let at = |rev: &str| repo.at(rev).ok_or_else(|| revision_not_found(rev));
    let answer = match tail {
        [] => at("main").map(|repo| model_info(request, &repo)),
        ["revision", rev] => at(rev).map(|repo| model_info(request, &repo)),
        ["tree", rev, path @ ..] => at(rev).map(|repo| tree(hub, request, &repo, &path.join("/"))),
        ["refs"] => Ok(git::refs(&repo)),
        ["commits", rev] => at(rev).map(|at| git::commits(hub, request, &repo, &at)),
        ["discussions"] => Ok(community::discussions(hub, request, &repo)),
        _ => Ok(Response::text(404, "Not Found")),
    };
    answer.unwrap_or_else(|response| response)
}

/// Repo info: the recorded body when there is one and nothing asks for changes, else the
/// JSON built from the repo (`blobs=true` adds blob fields to siblings; `expand[]` selects).
fn model_info(request: &Request, repo: &StoredRepo) -> Response {
    let blobs = request.flag("blobs");
    let fields = match search::expand_fields(request) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if !fields.is_empty() {
        return Response::json(200, &search::expanded(repo, &fields, blobs));
    }
    if let Some(recorded) = &repo.recorded {
        let recorded_blobs = repo.info["siblings"][0].get("blobId").is_some();
        if recorded_blobs == blobs {
            return replay(200, recorded);
        }
    }
    let mut info = repo.info.clone();
    info.insert("siblings".to_owned(), repo.siblings(blobs));
    Response::json(200, &Value::Object(info))
}

/// One entry of a tree listing.
enum Entry<'a> {
    Directory(String),
    File(&'a StoredFile),
}

impl Entry<'_> {
    fn path(&self) -> &str {
        match self {
            Entry::Directory(path) => path,
            Entry::File(file) => &file.path,
        }
    }
}

/// `/api/models/{id}/tree/{rev}[/{path}]?recursive=…&expand=…`, paged with `Link`.
fn tree(hub: &Shared, request: &Request, repo: &StoredRepo, path: &str) -> Response {
    let recursive = request.flag("recursive");
    let expand = request.flag("expand");
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let mut directories = BTreeSet::new();
    let mut entries = Vec::new();
    for file in &repo.files {
        let Some(relative) = file.path.strip_prefix(&prefix) else {
            continue;
        };
        let parents: Vec<&str> = relative.split('/').collect();
        let parents = &parents[..parents.len() - 1];
        if recursive {
            for depth in 1..=parents.len() {
                directories.insert(format!("{prefix}{}", parents[..depth].join("/")));
            }
            entries.push(Entry::File(file));
        } else if let Some(top) = parents.first() {
            directories.insert(format!("{prefix}{top}"));
        } else {
            entries.push(Entry::File(file));
        }
    }
    if !path.is_empty() && entries.is_empty() && directories.is_empty() {
        return entry_not_found(true);
    }
    entries.extend(directories.into_iter().map(Entry::Directory));
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    let last_modified = repo.info.get("lastModified").cloned().unwrap_or_default();
    paging::page(
        &hub.base_url,
        request,
        &entries,
        hub.tree_page_size,
        |entry| {
            let mut value = match entry {
                Entry::Directory(dir) => json!({
                    "type": "directory",
                    "oid": sha1_hex(&format!("tree {} {dir}", repo.sha)),
                    "size": 0,
                    "path": dir,
                }),
                Entry::File(file) => {
                    let mut value = json!({
                        "type": "file",
                        "oid": file.git_oid(),
                        "size": file.len(),
                        "path": file.path,
                    });
                    if file.lfs {
                        value["lfs"] = file.lfs_json("oid");
                    }
                    value
                }
            };
            if expand {
                value["lastCommit"] = json!({
                    "id": repo.sha,
                    "title": format!("Upload {}", entry.path()),
                    "date": last_modified,
                });
            }
            value
        },
    )
}

/// A file to resolve, and how the request named it.
struct Target<'a> {
    kind: RepoKind,
    id: String,
    rev: &'a str,
    path: String,
    /// What precedes the id in the request path.
    prefix: &'static str,
    /// Whether this is the `/api/resolve-cache/…` flavour (rev must then be the sha).
    via_cache: bool,
}

/// Resolve: 200/206/416 with the file, 302 to the CDN for LFS files when configured, or 307
/// to the resolve cache for non-LFS files at a branch of `resolve_cache` repos.
fn resolve(hub: &Shared, request: &Request, target: &Target) -> Response {
    let repo = match access(hub, request, target.kind, &target.id, target.prefix) {
        Ok(repo) => repo,
        Err(response) => return response,
    };
    if let Err(response) = gate(hub, request, &repo) {
        return response;
    }
    let rev = target.rev;
    let Some(repo) = repo.at(rev).filter(|at| !target.via_cache || rev == at.sha) else {
        return revision_not_found(rev);
    };
    let Some(file) = repo.file(&target.path) else {
        return entry_not_found(false);
    };
    if file.lfs {
        let sha = file.sha256();
        let response = match &hub.lfs_redirect_base {
            Some(base) if !target.via_cache => {
                let location = format!("{base}/cdn/{sha}");
                Response::text(302, &format!("Found. Redirecting to {location}"))
                    .header("Location", &location)
                    .header("ETag", &format!("\"{sha}\""))
            }
            _ => with_disposition(
                files::serve(hub.range(request), file, "application/octet-stream"),
                file,
                "attachment",
            ),
        };
        return response
            .header("X-Repo-Commit", &repo.sha)
            .header("X-Linked-Etag", &format!("\"{sha}\""))
            .header("X-Linked-Size", &file.len().to_string());
    }
    if repo.resolve_cache && !target.via_cache && rev != repo.sha {
        let original = format!("/{}/resolve/{rev}/{}", repo.id, file.path);
        let location = format!(
            "/api/resolve-cache/models/{}/{}/{}?{}=&etag={}",
            repo.id,
            repo.sha,
            percent_encode(&file.path, b"/"),
            percent_encode(&original, b""),
            percent_encode(&format!("\"{}\"", file.git_oid()), b""),
        );
        return Response::text(
            307,
            &format!("Temporary Redirect. Redirecting to {location}"),
        )
        .header("Location", &location);
    }
    with_disposition(
        files::serve(hub.range(request), file, files::content_type(&file.path)),
        file,
        "inline",
    )
    .header("X-Repo-Commit", &repo.sha)
}

/// Adds `Content-Disposition` the way the Hub writes it.
fn with_disposition(response: Response, file: &StoredFile, kind: &str) -> Response {
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    response.header(
        "Content-Disposition",
        &format!(
            "{kind}; filename*=UTF-8''{}; filename=\"{ascii}\";",
            percent_encode(name, b"")
        ),
    )
}

/// `/cdn/{sha256}`: the bytes of any LFS file with that hash, with `Range` support.
fn cdn(hub: &Shared, request: &Request, sha: &str) -> Response {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Response::text(404, "Not Found");
    }
    let repos: Vec<Arc<StoredRepo>> = hub.state().repos.values().cloned().collect();
    repos
        .iter()
        .flat_map(|repo| std::iter::once(repo).chain(&repo.revisions))
        .flat_map(|repo| repo.files.iter().filter(|f| f.lfs))
        .find(|file| file.sha256() == sha)
        .map_or_else(
            || Response::text(404, "Not Found"),
            |file| files::serve(hub.range(request), file, "application/octet-stream"),
        )
}

/// `/api/whoami-v2`: the user of the accepted token; 401 otherwise.
fn whoami(hub: &Shared, request: &Request) -> Response {
    match request.bearer() {
        Some(token) if hub.require_token.as_deref() == Some(token) => Response::json(
            200,
            &json!({
                "type": "user",
                "id": crate::repos::object_id(USER_NAME),
                "name": USER_NAME,
                "fullname": "Hubble Tester",
                "email": "hubble-tester@example.com",
                "emailVerified": true,
                "canPay": false,
                "isPro": false,
                "periodEnd": null,
                "avatarUrl": "/avatars/hubble-tester.svg",
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {
                        "displayName": "fixture-token",
                        "role": "read",
                        "createdAt": "2025-01-01T00:00:00.000Z",
                    },
                },
            }),
        ),
        Some(_) => invalid_credentials(),
        None => Response::json_error(401, "Invalid username or password."),
    }
}

/// The Hub's answer to a token it does not accept.
fn invalid_credentials() -> Response {
    let message = "Invalid credentials in Authorization header";
    Response::json_error(401, message).header("X-Error-Message", message)
}
