//! `hubble card`: a model's README with its metadata, license and evaluation results.

use clap::Args;

use super::format::Table;
use super::print_json;
use crate::cache::CachedRepo;
use crate::card::ModelCard;
use crate::card::license::License;
use crate::hub::{HubClient, HubError, RepoId};

/// Largest model card accepted (the biggest real ones are a few hundred kB).
const MAX_CARD_BYTES: usize = 16 * 1024 * 1024;

/// Arguments of `hubble card`.
#[derive(Debug, Args)]
pub struct CardArgs {
    /// Repository id, e.g. google-bert/bert-base-uncased.
    pub repo: RepoId,
    /// Branch, tag or commit (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// Print only the YAML front matter.
    #[arg(long)]
    pub front_matter: bool,
    /// Print JSON (metadata, license, warnings and the markdown body).
    #[arg(long)]
    pub json: bool,
}

/// `hubble card --json` output.
#[derive(Debug, serde::Serialize)]
pub struct CardOutput {
    /// Repository id.
    pub repo: RepoId,
    /// Revision asked for.
    pub revision: String,
    /// Where the text came from: `hub` or `cache`.
    pub source: &'static str,
    /// The license, classified.
    pub license: License,
    /// The parsed card.
    #[serde(flatten)]
    pub card: ModelCard,
}

/// Runs `hubble card`.
pub async fn run(client: &HubClient, args: CardArgs) -> Result<(), HubError> {
    let revision = args.revision.clone().unwrap_or_else(|| "main".into());
    let (text, source) = load(client, &args.repo, &revision).await?;
    let card = ModelCard::parse(&String::from_utf8_lossy(&text));
    let output = CardOutput {
        repo: args.repo,
        revision,
        source,
        license: card.license(),
        card,
    };
    if args.json {
        return print_json(&output);
    }
    for warning in &output.card.warnings {
        eprintln!("warning: {warning}");
    }
    if args.front_matter {
        match &output.card.front_matter {
            Some(yaml) => println!("{}", yaml.trim_end()),
            None => eprintln!("{} has no front matter.", output.repo),
        }
        return Ok(());
    }
    print!("{}", describe(&output));
    Ok(())
}

/// The card's text from the Hub, or from the cache when offline or when the Hub can't be
/// reached.
async fn load(
    client: &HubClient,
    repo: &RepoId,
    revision: &str,
) -> Result<(Vec<u8>, &'static str), HubError> {
    let cached = || {
        let file = CachedRepo::new(&client.config().hub_cache, repo)
            .snapshot_file(revision, "README.md")?;
        std::fs::read(file).ok()
    };
    match client
        .fetch_file(repo, Some(revision), "README.md", MAX_CARD_BYTES)
        .await
    {
        Ok(text) => Ok((text, "hub")),
        Err(error) if error.is_transient() || matches!(error, HubError::Offline { .. }) => {
            match cached() {
                Some(text) => {
                    eprintln!("note: showing the cached card ({error})");
                    Ok((text, "cache"))
                }
                None => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

fn describe(output: &CardOutput) -> String {
    let meta = &output.card.metadata;
    let mut lines = vec![output.repo.to_string()];
    let mut field = |name: &str, value: String| {
        if !value.is_empty() {
            lines.push(format!("  {name:<12}{value}"));
        }
    };
    let license = &output.license;
    field(
        "license",
        format!("{} ({})", license.name, license.family.label()),
    );
    for note in &license.conditions.notes {
        field("", note.clone());
    }
    field("task", meta.pipeline_tag.clone().unwrap_or_default());
    field("library", meta.library_name.clone().unwrap_or_default());
    field("language", meta.language.join(", "));
    field("datasets", meta.datasets.join(", "));
    field("base model", meta.base_model.join(", "));
    field("tags", meta.tags.join(", "));
    let mut out = lines.join("\n");
    out.push('\n');
    if !meta.model_index.is_empty() {
        let mut table = Table::new(&["TASK", "DATASET", "METRIC", ">VALUE"]);
        for row in &meta.model_index {
            table.row(vec![
                row.task_type
                    .clone()
                    .or(row.task_name.clone())
                    .unwrap_or_default(),
                row.dataset_name
                    .clone()
                    .or(row.dataset_type.clone())
                    .unwrap_or_default(),
                row.metric_name
                    .clone()
                    .or(row.metric_type.clone())
                    .unwrap_or_default(),
                row.value.clone().unwrap_or_default(),
            ]);
        }
        out.push_str("\nEvaluation results\n");
        out.push_str(&table.render());
    }
    out.push('\n');
    out.push_str(output.card.body.trim());
    out.push('\n');
    out
}
