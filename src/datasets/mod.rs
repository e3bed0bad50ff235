//! Dataset previews: the first rows of a dataset with its columns and their types, from the
//! dataset viewer API or, when that can't be reached, from downloaded Parquet, CSV or JSON
//! Lines files.

mod csv;
mod load;
mod local;
mod media;
mod parquet_file;

use serde::Serialize;

pub use load::{PreviewError, PreviewRequest, load_preview};
pub use local::{data_files, preview_file, preview_snapshot};
pub use media::{CellMedia, MediaKind, MediaSource, cell_media};

use crate::hub::viewer::FirstRows;

/// Rows a preview shows by default.
pub const DEFAULT_ROWS: usize = 10;

/// One column: its name and type (`string`, `int64`, `double`, `bool`, `list`, `struct`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Type, as the viewer or the file states it (inferred for CSV and JSON Lines).
    pub dtype: String,
}

/// Where a preview's rows came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewSource {
    /// The dataset viewer API's `/first-rows`.
    Viewer,
    /// A downloaded file.
    File,
}

/// The first rows of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// Viewer or local file.
    pub source: PreviewSource,
    /// The config and split (viewer), or the file's path in the repo (local).
    pub origin: String,
    /// Columns, in order.
    pub columns: Vec<Column>,
    /// Rows: one JSON value per column.
    pub rows: Vec<Vec<serde_json::Value>>,
}

impl Preview {
    /// A preview from the viewer's answer for `config`/`split`, at most `limit` rows.
    pub fn from_viewer(first: &FirstRows, config: &str, split: &str, limit: usize) -> Preview {
        let columns: Vec<Column> = first
            .features
            .iter()
            .map(|f| Column {
                name: f.name.clone(),
                dtype: viewer_dtype(&f.feature_type),
            })
            .collect();
        let rows = first
            .rows
            .iter()
            .take(limit)
            .map(|r| {
                columns
                    .iter()
                    .map(|c| r.row.get(&c.name).cloned().unwrap_or_default())
                    .collect()
            })
            .collect();
        Preview {
            source: PreviewSource::Viewer,
            origin: format!("{config}/{split}"),
            columns,
            rows,
        }
    }
}

/// A cell of a column of type `dtype` as one line of text: strings as they are, images and
/// audio as `[image] URL` / `[audio] name (size, length)` ([`CellMedia::describe`]), anything
/// else as compact JSON.
pub fn cell_text(value: &serde_json::Value, dtype: &str) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => {
            let media = cell_media(other, dtype);
            if media.is_empty() {
                other.to_string()
            } else {
                let lines: Vec<String> = media.iter().map(CellMedia::describe).collect();
                lines.join(", ")
            }
        }
    }
}

/// The viewer's feature type as a short name: `Value` → its dtype, else the `_type`
/// (`Image`, `Audio`, `ClassLabel`, `Sequence`), or `list`/`struct` for bare JSON shapes.
/// The `datasets` library writes the same features into Parquet metadata.
pub(crate) fn viewer_dtype(feature: &serde_json::Value) -> String {
    use serde_json::Value;
    match feature {
        Value::Object(map) => match map.get("_type").and_then(Value::as_str) {
            Some("Value") => map
                .get("dtype")
                .and_then(Value::as_str)
                .unwrap_or("Value")
                .to_owned(),
            Some(kind) => kind.to_owned(),
            None => "struct".to_owned(),
        },
        Value::Array(_) => "list".to_owned(),
        _ => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn viewer_rows_become_a_preview() {
        let first: FirstRows = serde_json::from_value(json!({
            "features": [
                { "feature_idx": 0, "name": "text", "type": { "dtype": "string", "_type": "Value" } },
                { "feature_idx": 1, "name": "image", "type": { "_type": "Image" } },
            ],
            "rows": [
                { "row_idx": 0, "row": { "text": "a", "image": { "src": "https://x/1.jpg", "height": 2, "width": 2 } } },
                { "row_idx": 1, "row": { "text": "b" } },
            ],
        }))
        .unwrap();
        let preview = Preview::from_viewer(&first, "default", "train", 10);
        assert_eq!(preview.columns[0].dtype, "string");
        assert_eq!(preview.columns[1].dtype, "Image");
        assert_eq!(
            cell_text(&preview.rows[0][1], &preview.columns[1].dtype),
            "[image] https://x/1.jpg"
        );
        assert_eq!(preview.rows[1][1], serde_json::Value::Null);
        assert_eq!(preview.origin, "default/train");
    }
}
