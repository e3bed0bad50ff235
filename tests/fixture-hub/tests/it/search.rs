//! `/api/models` listing: filters, sorting, expansion and Link paging.

use std::collections::BTreeSet;

use fixture_hub::FixtureHub;
use serde_json::Value;

use crate::DEFAULT_REPO_COUNT;
use crate::client::get;

fn ids(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `Link` from `target`, returning every page.
fn all_pages(hub: &FixtureHub, target: &str) -> Vec<Value> {
    let url = hub.url();
    let mut pages = Vec::new();
    let mut next = Some(target.to_owned());
    while let Some(t) = next {
        let r = get(&url, &t);
        assert_eq!(r.status, 200, "{}", r.text());
        next = r.next_link(&url);
        pages.push(r.json());
        assert!(pages.len() < 100, "runaway paging");
    }
    pages
}

#[test]
fn plain_search_pages_through_everything() {
    let hub = FixtureHub::start();
    let pages = all_pages(
        &hub,
        "/api/models?search=&limit=5&sort=downloads&direction=-1",
    );
    assert!(pages.len() >= 3);
    assert!(
        pages[..pages.len() - 1]
            .iter()
            .all(|p| p.as_array().unwrap().len() == 5)
    );
    let all: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(all.len(), DEFAULT_REPO_COUNT);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        DEFAULT_REPO_COUNT
    );
    let downloads: Vec<u64> = pages
        .iter()
        .flat_map(|p| p.as_array().unwrap().clone())
        .map(|e| e["downloads"].as_u64().unwrap())
        .collect();
    assert!(downloads.windows(2).all(|w| w[0] >= w[1]), "{downloads:?}");
    // Links keep the original parameters.
    let r = get(
        &hub.url(),
        "/api/models?search=&limit=5&sort=downloads&direction=-1",
    );
    let link = r.header("link").unwrap();
    assert!(
        link.starts_with(&format!(
            "<{}/api/models?search=&limit=5&sort=downloads&direction=-1&cursor=",
            hub.url()
        )),
        "{link}"
    );
}

#[test]
fn compact_entries_look_like_the_hub() {
    let hub = FixtureHub::start();
    let list = get(
        &hub.url(),
        "/api/models?search=tiny-model&limit=1&sort=likes",
    )
    .json();
    let entry = list[0].as_object().unwrap();
    let keys: BTreeSet<&str> = entry.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "_id",
        "id",
        "likes",
        "trendingScore",
        "private",
        "downloads",
        "tags",
        "pipeline_tag",
        "library_name",
        "createdAt",
        "modelId",
    ]
    .into();
    assert_eq!(keys, expected);
    let full = get(
        &hub.url(),
        "/api/models?search=hubble-tests/tiny-model&full=true&config=true",
    )
    .json();
    let tiny = full
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "hubble-tests/tiny-model")
        .unwrap();
    assert!(tiny["siblings"].is_array() && tiny["sha"].is_string());
    assert_eq!(tiny["config"]["model_type"], "llama");
}

#[test]
fn filters_combine() {
    let hub = FixtureHub::start();
    let q = |query: &str| ids(&get(&hub.url(), &format!("/api/models?limit=100&{query}")).json());

    let bert = q("search=BERT");
    assert!(bert.contains(&"google-bert/bert-base-uncased".to_owned()));
    assert!(bert.contains(&"KPFBERT/kpfbert".to_owned()));
    assert!(bert.iter().all(|id| id.to_lowercase().contains("bert")));

    let openai: BTreeSet<String> = q("author=OpenAI").into_iter().collect();
    assert_eq!(
        openai,
        ["openai/privacy-filter", "openai/whisper-base"]
            .map(String::from)
            .into()
    );
    assert!(
        q("author=openai")
            .iter()
            .all(|id| id.starts_with("openai/"))
    );

    let apache_en = q("filter=license:apache-2.0&filter=en");
    assert!(apache_en.contains(&"google-bert/bert-base-uncased".to_owned()));
    assert!(apache_en.contains(&"hubble-tests/tiny-model".to_owned()));
    assert!(!apache_en.contains(&"google/vit-base-patch16-224-in21k".to_owned())); // no language

    let st = q("filter=sentence-transformers&pipeline_tag=sentence-similarity");
    assert!(st.contains(&"sentence-transformers/paraphrase-albert-small-v2".to_owned()));
    assert!(st.contains(&"LiquidAI/LFM2.5-Embedding-350M".to_owned()));
    assert!(st.contains(&"aspire/acge_text_embedding".to_owned()));

    let gated: BTreeSet<String> = q("gated=true").into_iter().collect();
    let expected: BTreeSet<String> = [
        "CompVis/stable-diffusion-v1-4",
        "briaai/RMBG-1.4",
        "hubble-tests/gated-model",
    ]
    .map(String::from)
    .into();
    assert_eq!(gated, expected);
    assert_eq!(q("gated=false").len(), crate::DEFAULT_REPO_COUNT - 3);

    let mid: BTreeSet<String> = q("num_parameters=min:6B,max:128B").into_iter().collect();
    let expected: BTreeSet<String> = [
        "EleutherAI/gpt-j-6b",
        "Qwen/Qwen-72B",
        "Qwen/Qwen2.5-72B-Instruct",
        "adept/fuyu-8b",
    ]
    .map(String::from)
    .into();
    assert_eq!(mid, expected);
    assert!(q("num_parameters=max:1M").contains(&"hubble-tests/tiny-model".to_owned()));

    assert_eq!(q("apps=llama.cpp"), ["hubble-tests/tiny-model-GGUF"]);
    assert!(q("apps=vllm").contains(&"Qwen/Qwen2.5-72B-Instruct".to_owned()));
}

#[test]
fn sorts_are_descending_with_id_tie_break() {
    let hub = FixtureHub::start();
    for (sort, key) in [
        ("likes", "likes"),
        ("trendingScore", "trendingScore"),
        ("createdAt", "createdAt"),
        ("lastModified", "lastModified"),
    ] {
        let fields = if key == "lastModified" {
            format!("&expand[]={key}")
        } else {
            String::new()
        };
        let list = get(
            &hub.url(),
            &format!("/api/models?limit=1000&sort={sort}{fields}"),
        )
        .json();
        let entries = list.as_array().unwrap();
        assert_eq!(entries.len(), crate::DEFAULT_REPO_COUNT);
        for pair in entries.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let order = match (&a[key], &b[key]) {
                (Value::Number(x), Value::Number(y)) => y.as_u64().cmp(&x.as_u64()),
                (x, y) => y.as_str().cmp(&x.as_str()),
            };
            assert!(order.is_le(), "{sort}: {a} before {b}");
            if order.is_eq() {
                assert!(a["id"].as_str() < b["id"].as_str());
            }
        }
    }
}

#[test]
fn expand_returns_only_requested_fields() {
    let hub = FixtureHub::start();
    let list = get(
        &hub.url(),
        "/api/models?search=tiny-model&expand[]=downloads&expand[]=gated",
    )
    .json();
    for entry in list.as_array().unwrap() {
        let keys: BTreeSet<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["_id", "id", "downloads", "gated"].into());
    }
}

#[test]
fn bad_parameters_answer_400() {
    let hub = FixtureHub::start();
    for query in [
        "sort=popularity",
        "limit=0",
        "limit=x",
        "gated=maybe",
        "num_parameters=6B",
        "expand[]=x",
        "cursor=nothex",
    ] {
        let r = get(&hub.url(), &format!("/api/models?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert!(r.json()["error"].is_string());
    }
}
