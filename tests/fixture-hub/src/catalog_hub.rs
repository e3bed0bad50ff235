//! The test catalogue's datasets and Spaces. Their info bodies are synthetic, shaped like the
//! Hub API's `dataset_info` / `space_info` documentation (not recordings).

use serde_json::json;

use crate::repos::{Repo, RepoFile, RepoKind};

/// `hubble-tests/tiny-dataset` (README card, a CSV and a JSONL file, a viewer answer), and
/// two Spaces that use `hubble-tests/tiny-model` plus one that does not.
pub(crate) fn datasets_and_spaces() -> Vec<Repo> {
    let card = "---\nlicense: mit\nlanguage:\n- en\ntask_categories:\n- text-classification\n\
                size_categories:\n- n<1K\n---\n\n# Tiny dataset\n\nThree reviews and their labels.\n";
    let csv = "text,label\ngreat film,1\nboring plot,0\nloved it,1\n";
    let jsonl =
        "{\"text\": \"great film\", \"label\": 1}\n{\"text\": \"boring plot\", \"label\": 0}\n";
    let dataset = Repo {
        kind: RepoKind::Dataset,
        files: vec![
            RepoFile::new("README.md", card),
            RepoFile::new("data/train.csv", csv),
            RepoFile::new("data/extra.jsonl", jsonl),
        ],
        info_extra: json!({
            "tags": [
                "task_categories:text-classification", "size_categories:n<1K", "modality:text",
                "format:csv", "language:en", "license:mit", "region:us",
            ],
            "downloads": 12,
            "likes": 2,
            "description": "Three reviews and their labels.",
            "cardData": { "license": "mit", "language": ["en"], "task_categories": ["text-classification"], "size_categories": ["n<1K"] },
        }),
        first_rows: Some(json!({
            "features": [
                { "feature_idx": 0, "name": "text", "type": { "dtype": "string", "_type": "Value" } },
                { "feature_idx": 1, "name": "label", "type": { "dtype": "int64", "_type": "Value" } },
            ],
            "rows": [
                { "row_idx": 0, "row": { "text": "great film", "label": 1 }, "truncated_cells": [] },
                { "row_idx": 1, "row": { "text": "boring plot", "label": 0 }, "truncated_cells": [] },
                { "row_idx": 2, "row": { "text": "loved it", "label": 1 }, "truncated_cells": [] },
            ],
        })),
        ..Repo::new("hubble-tests/tiny-dataset")
    };
    let space = |id: &str, sdk: &str, likes: u64, models: &[&str]| Repo {
        kind: RepoKind::Space,
        files: vec![RepoFile::new("app.py", "print('hello')\n")],
        info_extra: json!({
            "sdk": sdk,
            "likes": likes,
            "tags": [sdk, "region:us"],
            "models": models,
            "cardData": { "title": id, "sdk": sdk },
        }),
        ..Repo::new(id)
    };
    vec![
        dataset,
        space(
            "hubble-tests/tiny-chat",
            "gradio",
            7,
            &["hubble-tests/tiny-model"],
        ),
        space(
            "hubble-tests/tiny-bench",
            "streamlit",
            3,
            &["hubble-tests/tiny-model", "hubble-tests/tiny-model-GGUF"],
        ),
        space("hubble-tests/unrelated", "docker", 1, &[]),
    ]
}
