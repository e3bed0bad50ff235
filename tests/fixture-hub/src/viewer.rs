//! The dataset viewer's `/splits?dataset=` and `/first-rows?dataset=&config=&split=`, served on
//! the hub's own port (tests point the viewer endpoint at it). No recording exists in the
//! fixtures: the bodies follow the shapes in the dataset viewer API documentation (`splits[{
//! dataset, config, split}], pending, failed`; `dataset, config, split, features[{feature_idx,
//! name, type}], rows[{row_idx, row, truncated_cells}], truncated`).

use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::hub::Shared;
use crate::repos::RepoKind;

/// The one config and split a fixture dataset has.
const CONFIG: &str = "default";
const SPLIT: &str = "train";

/// Answers `/splits` and `/first-rows` for datasets with [`crate::Repo::first_rows`].
pub(crate) fn route(hub: &Shared, request: &Request) -> Response {
    let Some(dataset) = request.query_first("dataset") else {
        return Response::json_error(422, "Parameter 'dataset' is required");
    };
    let repo = hub
        .state()
        .repos
        .get(&RepoKind::Dataset.key(dataset))
        .cloned();
    let Some(first_rows) = repo.and_then(|r| r.first_rows.clone()) else {
        return Response::json_error(404, "The dataset does not exist, or is not accessible.");
    };
    if request.path == "/splits" {
        return Response::json(
            200,
            &json!({
                "splits": [{ "dataset": dataset, "config": CONFIG, "split": SPLIT }],
                "pending": [],
                "failed": [],
            }),
        );
    }
    if request.query_first("config") != Some(CONFIG) || request.query_first("split") != Some(SPLIT)
    {
        return Response::json_error(404, "Not found.");
    }
    let mut body =
        json!({ "dataset": dataset, "config": CONFIG, "split": SPLIT, "truncated": false });
    if let Value::Object(extra) = first_rows {
        for (key, value) in extra {
            body[key] = value;
        }
    }
    Response::json(200, &body)
}
