//! Repositories and responses replayed from the recordings in `fixtures/hub-api/`.

use serde_json::Value;

use crate::catalog::fixture_bytes;
use crate::repos::{Recorded, Repo, RepoFile};

/// Recorded model-info captures: (repo id, file stem in `hub-api/`).
const MODEL_INFOS: &[(&str, &str)] = &[
    (
        "google-bert/bert-base-uncased",
        "model_info__google-bert__bert-base-uncased__2025-01-22",
    ),
    (
        "deepset/roberta-base-squad2",
        "model_info__deepset__roberta-base-squad2__2025-01-22",
    ),
    (
        "sentence-transformers/paraphrase-albert-small-v2",
        "model_info__sentence-transformers__paraphrase-albert-small-v2__2025-01-22",
    ),
    (
        "stabilityai/stable-diffusion-2-1",
        "model_info__stabilityai__stable-diffusion-2-1__2025-01-22",
    ),
    (
        "mcpotato/42-eicar-street",
        "model_info_blobs__mcpotato__42-eicar-street__rev8b3861f",
    ),
];

/// The repo whose old revision has a recorded tree listing, and that revision.
const TREE_REPO: &str = "google-bert/bert-base-uncased";
const TREE_REV: &str = "dd4bc8b21efa05ec961e3efc4ee5e3832a3679c7";

/// Recorded headers that describe the response itself; CDN, hop-by-hop and length headers
/// are recomputed or dropped.
const REPLAYED_HEADERS: &[&str] = &[
    "x-request-id",
    "etag",
    "content-type",
    "access-control-expose-headers",
    "access-control-allow-origin",
    "vary",
    "referrer-policy",
    "cross-origin-opener-policy",
    "location",
];

/// The five repos with recorded `/api/models/{id}` bodies, served byte for byte:
/// `google-bert/bert-base-uncased` (also reachable as the renamed `bert-base-uncased`),
/// `deepset/roberta-base-squad2`, `sentence-transformers/paraphrase-albert-small-v2`,
/// `stabilityai/stable-diffusion-2-1` and `mcpotato/42-eicar-street` (recorded with
/// `?blobs=true`). Their files are the recorded siblings with placeholder contents (for
/// mcpotato, of the recorded sizes), LFS where the recording or `.gitattributes` says so; so
/// hashes of placeholder files do not match recorded blob ids.
///
/// # Panics
/// If the recordings cannot be read (see [`crate::fixtures_dir`]).
pub fn recorded_repos() -> Vec<Repo> {
    let gitattributes = String::from_utf8_lossy(&fixture_bytes(
        "hub-api/gitattributes__TheBloke__Llama-2-7B-Chat-GGUF.txt",
    ))
    .into_owned();
    MODEL_INFOS
        .iter()
        .map(|(id, stem)| {
            let recorded = load(stem);
            let info: Value = serde_json::from_slice(&recorded.body)
                .unwrap_or_else(|e| panic!("recorded body {stem} is not JSON: {e}"));
            let files = info["siblings"]
                .as_array()
                .map(|siblings| {
                    siblings
                        .iter()
                        .filter_map(|s| placeholder_file(id, s, &gitattributes))
                        .collect()
                })
                .unwrap_or_default();
            let mut repo = Repo::new(id);
            repo.sha = info["sha"].as_str().unwrap_or(&repo.sha).to_owned();
            repo.files = files;
            repo.recorded_info = Some(recorded);
            if *id == TREE_REPO {
                repo.renamed_from = vec!["bert-base-uncased".to_owned()];
            }
            repo
        })
        .collect()
}

fn placeholder_file(id: &str, sibling: &Value, gitattributes: &str) -> Option<RepoFile> {
    let path = sibling["rfilename"].as_str()?;
    let content = match sibling["size"].as_u64() {
        Some(size) => b"placeholder "
            .iter()
            .copied()
            .cycle()
            .take(size as usize)
            .collect(),
        None => format!("placeholder for {id}/{path}\n").into_bytes(),
    };
    let lfs = match sibling.get("size") {
        Some(_) => sibling.get("lfs").is_some(),
        None => is_lfs_path(path, gitattributes),
    };
    Some(RepoFile {
        lfs,
        ..RepoFile::new(path, content)
    })
}

/// Whether a `*.ext filter=lfs` line of `.gitattributes` covers `path`.
fn is_lfs_path(path: &str, gitattributes: &str) -> bool {
    let Some((_, ext)) = path.rsplit_once('.') else {
        return false;
    };
    gitattributes.lines().any(|line| {
        line.contains("filter=lfs") && line.split_whitespace().next() == Some(&format!("*.{ext}"))
    })
}

/// Loads `hub-api/{stem}.body.*` and the replayable headers of `{stem}.meta.json`.
fn load(stem: &str) -> Recorded {
    let meta: Value = serde_json::from_slice(&fixture_bytes(&format!("hub-api/{stem}.meta.json")))
        .unwrap_or_else(|e| panic!("{stem}.meta.json is not JSON: {e}"));
    let body_path = ["json", "txt"]
        .iter()
        .map(|ext| format!("hub-api/{stem}.body.{ext}"))
        .find(|p| crate::fixtures_dir().join(p).exists())
        .unwrap_or_else(|| panic!("no body for recording {stem}"));
    let headers = meta["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .filter(|(name, _)| REPLAYED_HEADERS.contains(&name.to_lowercase().as_str()))
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Recorded {
        body: fixture_bytes(&body_path),
        headers,
    }
}

/// A recorded response served for an exact request path.
pub(crate) struct RecordedRoute {
    /// Decoded request path.
    pub path: String,
    /// Whether the route is for `expand=true` requests (tree listings) or not.
    pub expand: bool,
    pub status: u16,
    pub response: Recorded,
}

/// The recorded responses that are not model-info bodies, for the repos in `ids`: the `307`
/// of `/api/models/bert-base-uncased` and the tree listings of bert at revision `dd4bc8b…`.
pub(crate) fn recorded_routes(ids: &[&str]) -> Vec<RecordedRoute> {
    if !ids.contains(&TREE_REPO) {
        return Vec::new();
    }
    let json_type = (
        "Content-Type".to_owned(),
        "application/json; charset=utf-8".to_owned(),
    );
    let tree = |stem: &str, expand| RecordedRoute {
        path: format!("/api/models/{TREE_REPO}/tree/{TREE_REV}"),
        expand,
        status: 200,
        response: Recorded {
            headers: vec![json_type.clone()],
            ..load(stem)
        },
    };
    vec![
        RecordedRoute {
            path: "/api/models/bert-base-uncased".to_owned(),
            expand: false,
            status: 307,
            response: load("model_info__bert-base-uncased__307_redirect"),
        },
        tree("tree__google-bert__bert-base-uncased__revdd4bc8b", false),
        tree(
            "tree_expand__google-bert__bert-base-uncased__revdd4bc8b",
            true,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_repos_load() {
        let repos = recorded_repos();
        assert_eq!(repos.len(), 5);
        let bert = &repos[0];
        assert_eq!(bert.sha, "86b5e0934494bd15c9632b12f734a8a67f723594");
        assert_eq!(bert.files.len(), 16);
        let lfs: Vec<&str> = bert
            .files
            .iter()
            .filter(|f| f.lfs)
            .map(|f| f.path.as_str())
            .collect();
        assert!(lfs.contains(&"model.safetensors") && !lfs.contains(&"config.json"));
        let potato = &repos[4];
        let bin = potato
            .files
            .iter()
            .find(|f| f.path == "pytorch_model.bin")
            .unwrap();
        assert!(bin.lfs && bin.content.len() == 22);
        let pkl = potato
            .files
            .iter()
            .find(|f| f.path == "supposedly_safe.pkl")
            .unwrap();
        assert!(!pkl.lfs);
    }

    #[test]
    fn redirect_route_keeps_recorded_headers() {
        let routes = recorded_routes(&[TREE_REPO]);
        let redirect = &routes[0].response;
        assert!(
            redirect
                .headers
                .iter()
                .any(|(n, v)| n == "Location" && v == "/api/models/google-bert/bert-base-uncased")
        );
        assert!(!redirect.headers.iter().any(|(n, _)| n == "Via"));
    }
}
