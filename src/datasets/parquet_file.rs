//! The columns (with their Parquet types) and first rows of a Parquet file, through the
//! `parquet` crate's row API (no arrow).

use std::fs::File;
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType};
use parquet::file::metadata::KeyValue;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::Type;
use serde_json::Value;

use super::{Column, viewer_dtype};

/// Columns and up to `limit` rows of the file at `path`.
pub(super) fn read(path: &Path, limit: usize) -> Result<(Vec<Column>, Vec<Vec<Value>>), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    let metadata = reader.metadata().file_metadata();
    let features = hf_features(metadata.key_value_metadata());
    let columns: Vec<Column> = metadata
        .schema_descr_ptr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|field| Column {
            name: field.name().to_owned(),
            dtype: features
                .get(field.name())
                .map_or_else(|| type_name(field), viewer_dtype),
        })
        .collect();
    let mut rows = Vec::new();
    for row in reader
        .get_row_iter(None)
        .map_err(|e| e.to_string())?
        .take(limit)
    {
        let row = row.map_err(|e| e.to_string())?.to_json_value();
        rows.push(
            columns
                .iter()
                .map(|c| row.get(&c.name).cloned().unwrap_or_default())
                .collect(),
        );
    }
    Ok((columns, rows))
}

/// The features the `datasets` library records under the `huggingface` metadata key
/// (`{"info": {"features": {name: {"_type": "Image"}, …}}}`), by column name; empty without.
fn hf_features(metadata: Option<&Vec<KeyValue>>) -> serde_json::Map<String, Value> {
    metadata
        .into_iter()
        .flatten()
        .find(|kv| kv.key == "huggingface")
        .and_then(|kv| serde_json::from_str::<Value>(kv.value.as_deref()?).ok())
        .and_then(|mut json| match json["info"]["features"].take() {
            Value::Object(features) => Some(features),
            _ => None,
        })
        .unwrap_or_default()
}

/// `string`, `int64`, `double`, `timestamp`, `list`, `struct`, … for a top-level field.
fn type_name(field: &Type) -> String {
    if field.is_group() {
        let info = field.get_basic_info();
        return match (info.logical_type_ref(), info.converted_type()) {
            (Some(LogicalType::List), _) | (_, ConvertedType::LIST) => "list".to_owned(),
            (Some(LogicalType::Map), _) | (_, ConvertedType::MAP) => "map".to_owned(),
            _ => "struct".to_owned(),
        };
    }
    let info = field.get_basic_info();
    match info.logical_type_ref() {
        Some(LogicalType::String) => "string".to_owned(),
        Some(LogicalType::Integer(int)) => {
            let sign = if int.is_signed { "" } else { "u" };
            format!("{sign}int{}", int.bit_width)
        }
        Some(LogicalType::Timestamp { .. }) => "timestamp".to_owned(),
        Some(LogicalType::Date) => "date".to_owned(),
        Some(LogicalType::Decimal { .. }) => "decimal".to_owned(),
        Some(other) => format!("{other:?}").to_lowercase(),
        None => match field.get_physical_type() {
            parquet::basic::Type::BOOLEAN => "bool".to_owned(),
            parquet::basic::Type::INT32 => "int32".to_owned(),
            parquet::basic::Type::INT64 => "int64".to_owned(),
            parquet::basic::Type::FLOAT => "float".to_owned(),
            parquet::basic::Type::DOUBLE => "double".to_owned(),
            parquet::basic::Type::BYTE_ARRAY => "binary".to_owned(),
            other => other.to_string().to_lowercase(),
        },
    }
}
