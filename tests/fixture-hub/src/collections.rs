//! `/api/collections?q=&owner=&item=&limit=` and `/api/collections/{slug}`. No recording exists
//! in the fixtures: the bodies follow huggingface_hub's `list_collections` / `get_collection`
//! documentation (`slug, title, description, owner{name, type}, items[{_id, position, type, id,
//! note?}], lastUpdated, private, theme, upvotes`; listings show at most 4 items each).

use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::repos::object_id;

/// Items a listing shows per collection.
const LISTED_ITEMS: usize = 4;

/// The catalogue's collections.
fn all() -> Vec<Value> {
    let item = |position: usize, kind: &str, id: &str| json!({ "_id": object_id(&format!("{kind}/{id}")), "position": position, "type": kind, "id": id });
    let collection = |slug: &str, title: &str, upvotes: u64, items: Vec<Value>| {
        let owner = slug.split('/').next().unwrap_or_default();
        json!({
            "slug": slug,
            "title": title,
            "description": format!("{title}, collected for Hubble's tests."),
            "owner": { "name": owner, "type": "org" },
            "items": items,
            "lastUpdated": "2025-02-01T00:00:00.000Z",
            "position": 0,
            "private": false,
            "theme": "blue",
            "upvotes": upvotes,
        })
    };
    let mut tiny_items = vec![
        item(0, "model", "hubble-tests/tiny-model"),
        item(1, "dataset", "hubble-tests/tiny-dataset"),
        item(2, "space", "hubble-tests/tiny-chat"),
        item(3, "model", "hubble-tests/tiny-model-GGUF"),
        item(4, "model", "hubble-tests/gated-model"),
    ];
    tiny_items[0]["note"] = json!({ "html": "Start here", "text": "Start here" });
    vec![
        collection(
            "hubble-tests/tiny-things-0123456789abcdef01234567",
            "Tiny things",
            5,
            tiny_items,
        ),
        collection(
            "hubble-tests/big-files-89abcdef0123456789abcdef",
            "Big files",
            1,
            vec![item(0, "model", "hubble-tests/large-files")],
        ),
    ]
}

/// `GET /api/collections?…`: matching collections, most upvoted first.
pub(crate) fn list(request: &Request) -> Response {
    let q = request.query_first("q").unwrap_or_default().to_lowercase();
    let owner = request.query_first("owner");
    let items = request.query_all("item");
    let limit: usize = request
        .query_first("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let listed: Vec<Value> = all()
        .into_iter()
        .filter(|c| {
            c["title"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains(&q)
        })
        .filter(|c| owner.is_none_or(|o| c["owner"]["name"] == o))
        .filter(|c| {
            items.iter().all(|wanted| {
                c["items"].as_array().is_some_and(|list| {
                    list.iter().any(|i| {
                        format!(
                            "{}s/{}",
                            i["type"].as_str().unwrap_or_default(),
                            i["id"].as_str().unwrap_or_default()
                        ) == *wanted
                    })
                })
            })
        })
        .take(limit)
        .map(|mut c| {
            if let Some(list) = c["items"].as_array_mut() {
                list.truncate(LISTED_ITEMS);
            }
            c
        })
        .collect();
    Response::json(200, &Value::Array(listed))
}

/// `GET /api/collections/{slug}`: one collection with every item, or 404.
pub(crate) fn get(slug: &str) -> Response {
    all().into_iter().find(|c| c["slug"] == slug).map_or_else(
        || Response::json_error(404, "Collection not found"),
        |c| Response::json(200, &c),
    )
}
