//! The first rows of CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes)
//! and JSON Lines files, read line by line so that a large file costs only what is shown.
//! Column types are inferred from the rows read: `int64`, `double`, `bool`, else `string`
//! (JSON Lines also `list`, `struct`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::Column;

/// Longest record accepted (a quote that never closes would otherwise read the whole file).
const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// Columns (from the header line) and up to `limit` rows of a CSV file.
pub(super) fn read_csv(
    path: &Path,
    limit: usize,
) -> Result<(Vec<Column>, Vec<Vec<Value>>), String> {
    let mut lines = BufReader::new(File::open(path).map_err(|e| e.to_string())?).lines();
    let mut next_record = || -> Result<Option<Vec<String>>, String> {
        let mut record = String::new();
        loop {
            match lines.next() {
                None if record.is_empty() => return Ok(None),
                None => return Ok(Some(split_record(&record))),
                Some(line) => {
                    let line = line.map_err(|e| e.to_string())?;
                    if !record.is_empty() {
                        record.push('\n');
                    }
                    record.push_str(line.strip_suffix('\r').unwrap_or(&line));
                    if record.len() > MAX_RECORD_BYTES {
                        return Err("a CSV record is longer than 8 MiB (unclosed quote?)".into());
                    }
                    if record.matches('"').count().is_multiple_of(2) {
                        return Ok(Some(split_record(&record)));
                    }
                }
            }
        }
    };
    let header = next_record()?.ok_or("the file is empty")?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    while rows.len() < limit {
        match next_record()? {
            Some(record) if record.len() == 1 && record[0].is_empty() => continue,
            Some(record) => rows.push(record),
            None => break,
        }
    }
    let columns: Vec<Column> = header
        .iter()
        .enumerate()
        .map(|(i, name)| Column {
            name: name.clone(),
            dtype: infer(rows.iter().filter_map(|r| r.get(i).map(String::as_str))),
        })
        .collect();
    let rows = rows
        .into_iter()
        .map(|record| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| typed(record.get(i).map_or("", String::as_str), &c.dtype))
                .collect()
        })
        .collect();
    Ok((columns, rows))
}

/// Splits one CSV record into fields.
fn split_record(record: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("never empty");
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            other => field.push(other),
        }
    }
    fields
}

/// The narrowest type every non-empty value parses as.
fn infer<'a>(values: impl Iterator<Item = &'a str> + Clone) -> String {
    let present = values.filter(|v| !v.is_empty());
    let all = |check: fn(&str) -> bool| present.clone().all(check);
    if present.clone().next().is_none() {
        "string"
    } else if all(|v| v.parse::<i64>().is_ok()) {
        "int64"
    } else if all(|v| v.parse::<f64>().is_ok()) {
        "double"
    } else if all(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "false")) {
        "bool"
    } else {
        "string"
    }
    .to_owned()
}

/// A CSV field as the JSON value of its column's type (empty → null).
fn typed(text: &str, dtype: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    match dtype {
        "int64" => text.parse::<i64>().map_or(Value::Null, Value::from),
        "double" => text.parse::<f64>().map_or(Value::Null, Value::from),
        "bool" => Value::Bool(text.eq_ignore_ascii_case("true")),
        _ => Value::String(text.to_owned()),
    }
}

/// Columns (keys in order of first appearance) and up to `limit` rows of a JSON Lines file.
/// A plain `.json` file holding one array of objects works too when it fits in 64 MiB.
pub(super) fn read_json_lines(
    path: &Path,
    limit: usize,
) -> Result<(Vec<Column>, Vec<Vec<Value>>), String> {
    let mut objects: Vec<Map<String, Value>> = Vec::new();
    let reader = BufReader::new(File::open(path).map_err(|e| e.to_string())?);
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if number == 0 && line.starts_with('[') {
            return read_json_array(path, limit);
        }
        match serde_json::from_str(line) {
            Ok(Value::Object(object)) => objects.push(object),
            Ok(_) => return Err(format!("line {} is not a JSON object", number + 1)),
            Err(e) => return Err(format!("line {} is not JSON: {e}", number + 1)),
        }
        if objects.len() >= limit {
            break;
        }
    }
    Ok(table(objects))
}

fn read_json_array(path: &Path, limit: usize) -> Result<(Vec<Column>, Vec<Vec<Value>>), String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > 64 << 20 {
        return Err(
            "a JSON array file over 64 MiB is not previewed; use JSON Lines or Parquet".into(),
        );
    }
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let items: Vec<Value> = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let objects = items
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .take(limit)
        .collect();
    Ok(table(objects))
}

/// Objects → columns (keys in order of first appearance, typed by their values) and rows.
fn table(objects: Vec<Map<String, Value>>) -> (Vec<Column>, Vec<Vec<Value>>) {
    let mut names: Vec<String> = Vec::new();
    for object in &objects {
        for key in object.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    let columns = names
        .iter()
        .map(|name| Column {
            name: name.clone(),
            dtype: json_type(objects.iter().filter_map(|o| o.get(name))),
        })
        .collect();
    let rows = objects
        .iter()
        .map(|o| {
            names
                .iter()
                .map(|n| o.get(n).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    (columns, rows)
}

/// The type all non-null values share, else `mixed`.
fn json_type<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    let mut kinds = values.filter(|v| !v.is_null()).map(|v| match v {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "double",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        _ => "struct",
    });
    let Some(first) = kinds.next() else {
        return "null".to_owned();
    };
    let mut kind = first;
    for other in kinds {
        kind = match (kind, other) {
            (a, b) if a == b => a,
            ("int64", "double") | ("double", "int64") => "double",
            _ => return "mixed".to_owned(),
        };
    }
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_split_with_quotes() {
        assert_eq!(
            split_record(r#"a,"b,c","say ""hi""""#),
            ["a", "b,c", "say \"hi\""]
        );
        assert_eq!(split_record(""), [""]);
    }

    #[test]
    fn csv_and_json_lines_are_typed() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "text,label,score\n\"multi\nline\",1,0.5\nb,0,2\n").unwrap();
        let (columns, rows) = read_csv(&csv, 10).unwrap();
        let types: Vec<&str> = columns.iter().map(|c| c.dtype.as_str()).collect();
        assert_eq!(types, ["string", "int64", "double"]);
        assert_eq!(rows[0][0], "multi\nline");
        assert_eq!(rows[1][1], 0);

        let jsonl = dir.path().join("t.jsonl");
        std::fs::write(
            &jsonl,
            "{\"a\": 1, \"b\": [1]}\n\n{\"a\": 2.5, \"c\": null}\nnot json\n",
        )
        .unwrap();
        let (columns, rows) = read_json_lines(&jsonl, 2).unwrap();
        let types: Vec<(&str, &str)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.dtype.as_str()))
            .collect();
        assert_eq!(types, [("a", "double"), ("b", "list"), ("c", "null")]);
        assert_eq!(rows.len(), 2);
        assert!(read_json_lines(&jsonl, 10).unwrap_err().contains("line 4"));
    }
}
