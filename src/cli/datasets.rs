//! `hubble datasets search|info|preview`: find datasets by the Hub's dataset facets, show one,
//! and preview its first rows (dataset viewer API, else the downloaded files).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::format::{Table, bytes, count, relative_time};
use super::{exit, print_json, report};
use crate::datasets::{
    DEFAULT_ROWS, Preview, PreviewError, PreviewRequest, cell_text, load_preview,
};
use crate::hub::{DatasetInfo, DatasetQuery, HubClient, HubError, RepoId, SortKey};

/// Arguments of `hubble datasets`.
#[derive(Debug, Args)]
pub struct DatasetsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DatasetsCommand,
}

impl DatasetsArgs {
    /// Whether `--json` was asked for.
    pub fn json(&self) -> bool {
        match &self.command {
            DatasetsCommand::Search(a) => a.json,
            DatasetsCommand::Info(a) => a.json,
            DatasetsCommand::Preview(a) => a.json,
        }
    }
}

/// The `datasets` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Search datasets by text and facets.
    Search(SearchArgs),
    /// Show a dataset: facets, counts and files with sizes.
    Info(InfoArgs),
    /// Show the first rows with column types (viewer API, else downloaded Parquet/CSV/JSONL).
    Preview(PreviewArgs),
}

/// Arguments of `hubble datasets search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to look for in dataset ids.
    pub query: Option<String>,
    /// Only datasets of this user or organisation.
    #[arg(long)]
    pub author: Option<String>,
    /// Task category, e.g. text-classification (repeatable).
    #[arg(long)]
    pub task: Vec<String>,
    /// Size category, e.g. 1K<n<10K (repeatable).
    #[arg(long)]
    pub size: Vec<String>,
    /// Modality: text, image, audio, tabular, … (repeatable).
    #[arg(long)]
    pub modality: Vec<String>,
    /// File format: parquet, csv, json, … (repeatable).
    #[arg(long)]
    pub format: Vec<String>,
    /// Language code, e.g. en (repeatable).
    #[arg(long)]
    pub language: Vec<String>,
    /// License id, e.g. mit (repeatable).
    #[arg(long)]
    pub license: Vec<String>,
    /// Order: trending, downloads, likes, updated, created.
    #[arg(long, value_parser = super::search::parse_sort, default_value = "trending")]
    pub sort: SortKey,
    /// How many datasets to show.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON (an array of datasets) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `hubble datasets info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Dataset id, e.g. stanfordnlp/imdb.
    pub repo: RepoId,
    /// Branch, tag or commit (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `hubble datasets preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Dataset id.
    pub repo: RepoId,
    /// Rows to show.
    #[arg(long, default_value_t = DEFAULT_ROWS)]
    pub rows: usize,
    /// Dataset viewer API (default: $HUBBLE_VIEWER_ENDPOINT, else the Hub's).
    #[arg(long, value_name = "URL")]
    pub viewer_endpoint: Option<String>,
    /// Skip the viewer: read the downloaded files only.
    #[arg(long)]
    pub local: bool,
    /// With the downloaded files: this one (a path in the repo) instead of the first data file.
    #[arg(long, value_name = "PATH")]
    pub file: Option<String>,
    /// Revision of the downloaded files (default: main).
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Print JSON (source, origin, columns[{name, dtype}], rows[[…]]) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hubble datasets`.
pub async fn run(client: &HubClient, args: DatasetsArgs) -> ExitCode {
    let json = args.json();
    let result = match args.command {
        DatasetsCommand::Search(a) => search(client, a).await,
        DatasetsCommand::Info(a) => info(client, a).await,
        DatasetsCommand::Preview(a) => return preview(client, a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error, json),
    }
}

async fn search(client: &HubClient, args: SearchArgs) -> Result<(), HubError> {
    let query = DatasetQuery {
        search: args.query,
        author: args.author,
        task_categories: args.task,
        size_categories: args.size,
        modalities: args.modality,
        formats: args.format,
        languages: args.language,
        licenses: args.license,
        sort: Some(args.sort),
        limit: args.limit,
    };
    let datasets = client.search_datasets(&query).await?;
    if args.json {
        return print_json(&datasets);
    }
    let now = chrono::Utc::now();
    let mut table = Table::new(&["DATASET", "TASKS", "SIZE", "DOWNLOADS", "LIKES", "UPDATED"]);
    for d in &datasets {
        table.row(vec![
            d.id.clone(),
            d.facet("task_categories").join(", "),
            d.facet("size_categories").join(", "),
            count(d.downloads.unwrap_or(0)),
            count(d.likes.unwrap_or(0)),
            d.last_modified
                .as_deref()
                .map(|t| relative_time(t, now))
                .unwrap_or_default(),
        ]);
    }
    if table.is_empty() {
        eprintln!("No datasets found.");
    } else {
        print!("{}", table.render());
    }
    Ok(())
}

async fn info(client: &HubClient, args: InfoArgs) -> Result<(), HubError> {
    let dataset = client
        .dataset_info(&args.repo, args.revision.as_deref())
        .await?;
    if args.json {
        return print_json(&dataset);
    }
    print!("{}", describe(&dataset, &client.config().endpoint));
    Ok(())
}

fn describe(d: &DatasetInfo, endpoint: &str) -> String {
    let mut lines = vec![d.id.clone(), format!("  {endpoint}/datasets/{}", d.id)];
    if let Some(description) = d.description.as_deref().filter(|s| !s.is_empty()) {
        lines.push(format!("  {description}"));
    }
    for (label, facet) in [
        ("tasks", "task_categories"),
        ("size", "size_categories"),
        ("modality", "modality"),
        ("format", "format"),
        ("language", "language"),
        ("license", "license"),
    ] {
        let values = d.facet(facet);
        if !values.is_empty() {
            lines.push(format!("{label:<10}{}", values.join(", ")));
        }
    }
    lines.push(format!(
        "{:<10}{} downloads, {} likes",
        "counts",
        count(d.downloads.unwrap_or(0)),
        count(d.likes.unwrap_or(0))
    ));
    let mut files = Table::new(&["FILE", "SIZE"]);
    for s in &d.siblings {
        let size = s.lfs.as_ref().map(|l| l.size).or(s.size);
        files.row(vec![s.path.clone(), size.map(bytes).unwrap_or_default()]);
    }
    format!(
        "{}\n\n{} files\n{}",
        lines.join("\n"),
        d.siblings.len(),
        files.render()
    )
}

/// The viewer first (unless `--local`/offline), then the downloaded snapshot.
async fn preview(client: &HubClient, args: PreviewArgs) -> ExitCode {
    let request = PreviewRequest {
        repo: args.repo,
        viewer: (!args.local).then(|| {
            args.viewer_endpoint
                .unwrap_or_else(|| client.config().viewer_endpoint.clone())
        }),
        revision: args.revision,
        file: args.file,
        rows: args.rows,
    };
    match load_preview(client, &request).await {
        Ok(preview) => print_preview(&preview, args.json),
        Err(error) => {
            let status = match error {
                PreviewError::NotCached { .. } => exit::NETWORK,
                PreviewError::Unreadable(_) => exit::FAILURE,
            };
            fail(error.kind(), &error.to_string(), status, args.json)
        }
    }
}

fn print_preview(preview: &Preview, json: bool) -> ExitCode {
    if json {
        return match print_json(preview) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => report(&error, json),
        };
    }
    let titles: Vec<String> = preview
        .columns
        .iter()
        .map(|c| format!("{} ({})", c.name, c.dtype))
        .collect();
    let mut table = Table::new(&titles.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &preview.rows {
        let cells = row.iter().zip(&preview.columns);
        table.row(
            cells
                .map(|(v, c)| short_cell(&cell_text(v, &c.dtype)))
                .collect(),
        );
    }
    let from = match preview.source {
        crate::datasets::PreviewSource::Viewer => "dataset viewer",
        crate::datasets::PreviewSource::File => "downloaded file",
    };
    println!("{} ({from})", preview.origin);
    print!("{}", table.render());
    ExitCode::SUCCESS
}

/// A cell on one line, at most 60 characters.
fn short_cell(text: &str) -> String {
    let line = text.replace(['\n', '\r', '\t'], " ");
    if line.chars().count() > 60 {
        format!("{}…", line.chars().take(59).collect::<String>())
    } else {
        line
    }
}

fn fail(kind: &str, message: &str, status: u8, json: bool) -> ExitCode {
    if json {
        let value = serde_json::json!({ "error": { "kind": kind, "message": message } });
        eprintln!("{value}");
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(status)
}
