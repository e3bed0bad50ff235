//! Model info, tree listings and whoami.

use fixture_hub::FixtureHub;
use serde_json::Value;

use crate::client::{get, get_with};
use crate::{fixture, hub_with_token};

const BERT_INFO: &str = "hub-api/model_info__google-bert__bert-base-uncased__2025-01-22.body.json";

#[test]
fn recorded_model_info_is_served_byte_for_byte_with_recorded_headers() {
    let hub = FixtureHub::start();
    let r = get(&hub.url(), "/api/models/google-bert/bert-base-uncased");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fixture(BERT_INFO));
    assert_eq!(
        r.header("x-request-id"),
        Some("Root=1-679137ed-5b402e715ad9fc2745fe095d;26fac15b-0ae6-43db-8d40-1192c1fe92a1")
    );
    assert_eq!(
        r.header("etag"),
        Some("W/\"1144-0lLZ4rZ6fR3gbhjw06/nTxkknu0\"")
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("x-powered-by"), Some("huggingface-moon"));
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("X-Error-Code")
    );

    let at_sha = get(
        &hub.url(),
        "/api/models/google-bert/bert-base-uncased/revision/86b5e0934494bd15c9632b12f734a8a67f723594",
    );
    assert_eq!(at_sha.body, fixture(BERT_INFO));
}

#[test]
fn renamed_repo_answers_the_recorded_307() {
    let hub = FixtureHub::start();
    let r = get(&hub.url(), "/api/models/bert-base-uncased");
    assert_eq!(r.status, 307);
    assert_eq!(
        r.header("location"),
        Some("/api/models/google-bert/bert-base-uncased")
    );
    assert_eq!(
        r.body,
        fixture("hub-api/model_info__bert-base-uncased__307_redirect.body.txt")
    );
    assert_eq!(
        r.header("x-request-id"),
        Some("Root=1-679137ed-006e422f6ee95900016b4c8e;26fac15b-0ae6-43db-8d40-1192c1fe92a1")
    );
    let r = get(
        &hub.url(),
        "/api/models/bert-base-uncased/revision/main?blobs=true",
    );
    assert_eq!(r.status, 307);
    assert_eq!(
        r.header("location"),
        Some("/api/models/google-bert/bert-base-uncased/revision/main?blobs=true")
    );
}

#[test]
fn synthetic_model_info_has_hub_fields() {
    let hub = FixtureHub::start();
    let info = get(&hub.url(), "/api/models/hubble-tests/tiny-model").json();
    for key in [
        "_id",
        "id",
        "modelId",
        "author",
        "sha",
        "lastModified",
        "createdAt",
        "tags",
    ] {
        assert!(info.get(key).is_some(), "{key} missing");
    }
    assert_eq!(info["private"], false);
    assert_eq!(info["disabled"], false);
    assert_eq!(info["gated"], false);
    assert_eq!(info["author"], "hubble-tests");
    assert_eq!(info["safetensors"]["total"], 4);
    assert!(info.get("trendingScore").is_none());
    let siblings: Vec<&str> = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap())
        .collect();
    assert!(siblings.contains(&"onnx/model.onnx") && siblings.contains(&"config.json"));
    assert!(info["siblings"][0].get("size").is_none());

    let card = get(&hub.url(), "/api/models/CompVis/stable-diffusion-v1-4").json();
    assert_eq!(card["gated"], "manual");
    assert_eq!(card["cardData"]["license"], "creativeml-openrail-m");
    assert!(
        card["tags"]
            .as_array()
            .unwrap()
            .contains(&"license:creativeml-openrail-m".into())
    );
}

#[test]
fn blobs_add_sizes_and_lfs_and_the_recorded_blobs_body_is_kept() {
    let hub = FixtureHub::start();
    let info = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model/revision/main?blobs=true",
    )
    .json();
    let siblings = info["siblings"].as_array().unwrap();
    let model = siblings
        .iter()
        .find(|s| s["rfilename"] == "model.safetensors")
        .unwrap();
    assert_eq!(model["lfs"]["size"], model["size"]);
    assert_eq!(model["lfs"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(model["blobId"].as_str().unwrap().len(), 40);
    let config = siblings
        .iter()
        .find(|s| s["rfilename"] == "config.json")
        .unwrap();
    assert!(config.get("lfs").is_none() && config["size"].as_u64().unwrap() > 0);

    let potato =
        "/api/models/mcpotato/42-eicar-street/revision/8b3861f6931c4026b0cd22b38dbc09e7668983ac";
    let recorded = get(&hub.url(), &format!("{potato}?blobs=true"));
    assert_eq!(
        recorded.body,
        fixture("hub-api/model_info_blobs__mcpotato__42-eicar-street__rev8b3861f.body.json")
    );
    let plain = get(&hub.url(), potato).json();
    assert_eq!(
        plain["siblings"][0],
        serde_json::json!({ "rfilename": ".gitattributes" })
    );
    // Recorded bodies without blobs get computed blob fields.
    let bert = get(
        &hub.url(),
        "/api/models/google-bert/bert-base-uncased?blobs=true",
    )
    .json();
    assert!(bert["siblings"][0]["blobId"].is_string());
}

#[test]
fn expand_selects_fields_and_rejects_unknown_ones() {
    let hub = FixtureHub::start();
    let r = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model?expand[]=downloads&expand[]=trendingScore&expand[]=safetensors",
    );
    let info = r.json();
    let mut keys: Vec<&String> = info.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["_id", "downloads", "id", "safetensors", "trendingScore"]
    );
    let bad = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model?expand[]=nope",
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn missing_repo_and_revision_errors() {
    let hub = FixtureHub::start();
    let anon = get(&hub.url(), "/api/models/nobody/nothing");
    assert_eq!(anon.status, 401);
    assert_eq!(anon.header("x-error-code"), Some("RepoNotFound"));
    assert_eq!(
        anon.header("x-error-message"),
        Some("Invalid username or password.")
    );
    assert_eq!(
        anon.json(),
        serde_json::json!({ "error": "Invalid username or password." })
    );

    let authed = get_with(
        &hub.url(),
        "/api/models/nobody/nothing",
        &[("Authorization", "Bearer hf_whatever")],
    );
    assert_eq!(authed.status, 404);
    assert_eq!(authed.header("x-error-code"), Some("RepoNotFound"));
    assert_eq!(authed.json()["error"], "Repository not found");

    let rev = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model/revision/refs%2Fpr%2F1",
    );
    assert_eq!(rev.status, 404);
    assert_eq!(rev.header("x-error-code"), Some("RevisionNotFound"));
    assert_eq!(
        rev.header("x-error-message"),
        Some("Invalid rev id: refs/pr/1")
    );
}

#[test]
fn recorded_tree_is_served_at_its_revision() {
    let hub = FixtureHub::start();
    let base =
        "/api/models/google-bert/bert-base-uncased/tree/dd4bc8b21efa05ec961e3efc4ee5e3832a3679c7";
    let plain = get(&hub.url(), base);
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.body,
        fixture("hub-api/tree__google-bert__bert-base-uncased__revdd4bc8b.body.json")
    );
    let expanded = get(&hub.url(), &format!("{base}?expand=true"));
    assert_eq!(
        expanded.body,
        fixture("hub-api/tree_expand__google-bert__bert-base-uncased__revdd4bc8b.body.json")
    );
}

fn paths(listing: &Value) -> Vec<(String, String)> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn tree_lists_directories_files_and_lfs() {
    let hub = FixtureHub::start();
    let root = get(&hub.url(), "/api/models/hubble-tests/tiny-model/tree/main").json();
    let entries = paths(&root);
    assert!(entries.contains(&("directory".into(), "onnx".into())));
    assert!(entries.contains(&("directory".into(), "extra".into())));
    assert!(!entries.iter().any(|(_, p)| p.contains('/')));
    let model = root
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "model.safetensors")
        .unwrap();
    assert_eq!(model["lfs"]["size"], model["size"]);
    assert_eq!(model["lfs"]["oid"].as_str().unwrap().len(), 64);
    assert_eq!(model["oid"].as_str().unwrap().len(), 40);

    let sub = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model/tree/main/extra",
    )
    .json();
    assert_eq!(
        paths(&sub),
        [("directory".to_owned(), "extra/notes".to_owned())]
    );
    let deep = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model/tree/main/extra?recursive=true&expand=true",
    )
    .json();
    assert_eq!(
        paths(&deep),
        [
            ("directory".to_owned(), "extra/notes".to_owned()),
            ("file".to_owned(), "extra/notes/readme.txt".to_owned())
        ]
    );
    assert!(deep[1]["lastCommit"]["id"].is_string());
    let missing = get(
        &hub.url(),
        "/api/models/hubble-tests/tiny-model/tree/main/nope",
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-error-code"), Some("EntryNotFound"));
}

#[test]
fn tree_pages_with_link_headers() {
    let hub = FixtureHub::start();
    let url = hub.url();
    let mut target =
        Some("/api/models/hubble-tests/many-files/tree/main?recursive=true".to_owned());
    let mut pages = 0;
    let mut all = Vec::new();
    while let Some(t) = target {
        let r = get(&url, &t);
        assert_eq!(r.status, 200, "{}", r.text());
        all.extend(paths(&r.json()));
        target = r.next_link(&url);
        if let Some(next) = &target {
            assert!(
                next.contains("recursive=true") && next.contains("cursor="),
                "{next}"
            );
        }
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 124); // 120 files + 4 directories
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| a.1.cmp(&b.1));
    sorted.dedup();
    assert_eq!(sorted.len(), 124);
    let bad = get(
        &url,
        "/api/models/hubble-tests/many-files/tree/main?cursor=zz",
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn whoami_needs_the_accepted_token() {
    let hub = hub_with_token("hf_good");
    let ok = get_with(
        &hub.url(),
        "/api/whoami-v2",
        &[("Authorization", "Bearer hf_good")],
    );
    assert_eq!(ok.status, 200);
    let me = ok.json();
    assert_eq!(me["type"], "user");
    assert_eq!(me["name"], fixture_hub::USER_NAME);
    assert_eq!(me["auth"]["accessToken"]["role"], "read");
    assert_eq!(get(&hub.url(), "/api/whoami-v2").status, 401);
    let bad = get_with(
        &hub.url(),
        "/api/whoami-v2",
        &[("Authorization", "Bearer hf_bad")],
    );
    assert_eq!(bad.status, 401);
}
