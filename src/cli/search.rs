//! `hubble search`: find models by text and facets.

use clap::Args;

use super::format::{Table, count, params, relative_time};
use super::print_json;
use crate::hub::{HubClient, HubError, ModelInfo, ModelQuery, SortKey};

/// Arguments of `hubble search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to look for in model ids.
    pub query: Option<String>,
    /// Task (pipeline tag), e.g. text-generation, fill-mask, automatic-speech-recognition.
    #[arg(long)]
    pub task: Option<String>,
    /// Library, e.g. transformers, gguf, sentence-transformers (repeatable).
    #[arg(long)]
    pub library: Vec<String>,
    /// License id, e.g. apache-2.0, mit (repeatable).
    #[arg(long)]
    pub license: Vec<String>,
    /// Language code, e.g. en, ja (repeatable).
    #[arg(long)]
    pub language: Vec<String>,
    /// Trained on this dataset (repeatable).
    #[arg(long)]
    pub dataset: Vec<String>,
    /// Any other tag (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
    /// Only models of this user or organisation.
    #[arg(long)]
    pub author: Option<String>,
    /// Only gated models.
    #[arg(long, conflicts_with = "ungated")]
    pub gated: bool,
    /// Only models that are not gated.
    #[arg(long)]
    pub ungated: bool,
    /// Smallest parameter count, e.g. 500M or 1B.
    #[arg(long, value_name = "COUNT")]
    pub min_params: Option<String>,
    /// Largest parameter count, e.g. 8B.
    #[arg(long, value_name = "COUNT")]
    pub max_params: Option<String>,
    /// Only models that run in this app, e.g. llama.cpp (repeatable).
    #[arg(long)]
    pub app: Vec<String>,
    /// Order: trending, downloads, likes, updated, created.
    #[arg(long, value_parser = parse_sort, default_value = "trending")]
    pub sort: SortKey,
    /// How many models to show.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Models per request (the rest is fetched page by page).
    #[arg(long, value_name = "N")]
    pub page_size: Option<usize>,
    /// Print JSON (an array of models) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_sort(name: &str) -> Result<SortKey, String> {
    SortKey::parse(name).ok_or_else(|| {
        format!("unknown sort {name:?}; use trending, downloads, likes, updated or created")
    })
}

impl SearchArgs {
    /// The Hub query these arguments describe.
    pub fn to_query(&self) -> ModelQuery {
        let mut query = ModelQuery::text(self.query.as_deref().unwrap_or(""));
        query.author = self.author.clone();
        query.pipeline_tag = self.task.clone();
        query.filters = self
            .library
            .iter()
            .cloned()
            .chain(self.license.iter().map(|l| format!("license:{l}")))
            .chain(self.language.iter().cloned())
            .chain(self.dataset.iter().map(|d| format!("dataset:{d}")))
            .chain(self.tag.iter().cloned())
            .collect();
        query.gated = match (self.gated, self.ungated) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        query.min_params = self.min_params.clone();
        query.max_params = self.max_params.clone();
        query.apps = self.app.clone();
        query.sort = Some(self.sort);
        query.page_size = Some(self.page_size.unwrap_or(self.limit.clamp(1, 1000)));
        query
    }
}

/// Runs `hubble search`.
pub async fn run(client: &HubClient, args: SearchArgs) -> Result<(), HubError> {
    let models = client
        .search_models_up_to(&args.to_query(), args.limit)
        .await?;
    if args.json {
        return print_json(&models);
    }
    if models.is_empty() {
        println!("No models match. Try fewer filters or another search text.");
        return Ok(());
    }
    print!("{}", results_table(&models).render());
    Ok(())
}

fn results_table(models: &[ModelInfo]) -> Table {
    let now = chrono::Utc::now();
    let mut table = Table::new(&[
        "MODEL",
        "TASK",
        ">DOWNLOADS",
        ">LIKES",
        "UPDATED",
        ">PARAMS",
        "LICENSE",
    ]);
    for model in models {
        let updated = model.last_modified.as_ref().or(model.created_at.as_ref());
        let gated = if model.gated.is_gated() {
            " (gated)"
        } else {
            ""
        };
        table.row(vec![
            format!("{}{gated}", model.id),
            model.pipeline_tag.clone().unwrap_or_default(),
            model.downloads.map(count).unwrap_or_default(),
            model.likes.map(count).unwrap_or_default(),
            updated.map(|t| relative_time(t, now)).unwrap_or_default(),
            model.parameter_count().map(params).unwrap_or_default(),
            model.license().unwrap_or_default(),
        ]);
    }
    table
}
