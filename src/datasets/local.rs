//! Previews read from downloaded files: the first data file of a snapshot (Parquet first, then
//! CSV, then JSON Lines), or one named file.

use std::path::Path;

use super::{Preview, PreviewSource, csv, parquet_file};
use crate::cache::files_under;

/// Data file kinds, in the order a snapshot's files are tried.
const KINDS: [&str; 4] = [".parquet", ".csv", ".jsonl", ".json"];

/// The data files under a snapshot folder (`/`-separated relative paths): Parquet, then CSV,
/// then JSON Lines / JSON, each group sorted by path.
pub fn data_files(snapshot: &Path) -> Vec<String> {
    let files = files_under(snapshot);
    KINDS
        .iter()
        .flat_map(|kind| {
            files
                .iter()
                .filter(move |(path, _)| path.to_ascii_lowercase().ends_with(kind))
                .map(|(path, _)| path.clone())
        })
        .collect()
}

/// The first `limit` rows of the first data file of a snapshot folder.
pub fn preview_snapshot(snapshot: &Path, limit: usize) -> Result<Preview, String> {
    let first = data_files(snapshot).into_iter().next().ok_or_else(|| {
        format!(
            "{} has no Parquet, CSV or JSON Lines file to preview.",
            snapshot.display()
        )
    })?;
    preview_file(&snapshot.join(&first), &first, limit)
}

/// The first `limit` rows of one data file (`name` is how the preview names it).
pub fn preview_file(path: &Path, name: &str, limit: usize) -> Result<Preview, String> {
    let lower = name.to_ascii_lowercase();
    let read = |e: String| format!("Could not read {}: {e}", path.display());
    let (columns, rows) = if lower.ends_with(".parquet") {
        parquet_file::read(path, limit).map_err(read)?
    } else if lower.ends_with(".csv") {
        csv::read_csv(path, limit).map_err(read)?
    } else if lower.ends_with(".jsonl") || lower.ends_with(".json") {
        csv::read_json_lines(path, limit).map_err(read)?
    } else {
        return Err(format!(
            "{name} is not a Parquet, CSV or JSON Lines file; pick one of those."
        ));
    };
    Ok(Preview {
        source: PreviewSource::File,
        origin: name.to_owned(),
        columns,
        rows,
    })
}
