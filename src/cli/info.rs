//! `hubble info`: a model's details and files.

use clap::Args;

use super::format::{Table, bytes, count, params, relative_time};
use super::print_json;
use crate::card::license::{License, classify};
use crate::hub::{HubClient, HubError, ModelInfo, RepoId};

/// Arguments of `hubble info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Repository id, e.g. google-bert/bert-base-uncased.
    pub repo: RepoId,
    /// Branch, tag or commit (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `hubble info --json` output: the Hub's model info plus what Hubble derives from it.
#[derive(Debug, serde::Serialize)]
pub struct InfoOutput {
    /// The model as the Hub describes it.
    #[serde(flatten)]
    pub model: ModelInfo,
    /// The license, classified.
    pub license: License,
    /// Parameter count (safetensors or GGUF metadata), when known.
    pub parameters: Option<u64>,
    /// Sum of all file sizes, when every size is known.
    pub total_size: Option<u64>,
}

/// Runs `hubble info`.
pub async fn run(client: &HubClient, args: InfoArgs) -> Result<(), HubError> {
    let model = client
        .model_info(&args.repo, args.revision.as_deref())
        .await?;
    let output = InfoOutput {
        license: license_of(&model),
        parameters: model.parameter_count(),
        total_size: model.total_file_size(),
        model,
    };
    if args.json {
        return print_json(&output);
    }
    print!(
        "{}",
        describe(&output, &client.config().repo_url(&output.model.id))
    );
    Ok(())
}

/// Classifies a model's license from its card data (with `license_name`/`license_link` for
/// `other`) or its `license:` tag.
pub fn license_of(model: &ModelInfo) -> License {
    let card_field = |key: &str| {
        model
            .card_data
            .as_ref()
            .and_then(|c| c.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    classify(
        model.license().as_deref(),
        card_field("license_name").as_deref(),
        card_field("license_link").as_deref(),
    )
}

fn describe(output: &InfoOutput, url: &str) -> String {
    let model = &output.model;
    let now = chrono::Utc::now();
    let mut lines = vec![model.id.clone(), format!("  {url}")];
    let mut field = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            lines.push(format!("  {name:<12}{value}"));
        }
    };
    field("task", model.pipeline_tag.clone());
    field("library", model.library_name.clone());
    field("license", Some(license_line(&output.license)));
    field(
        "popularity",
        Some(format!(
            "{} downloads · {} likes",
            model.downloads.map(count).unwrap_or_else(|| "?".into()),
            model.likes.map(count).unwrap_or_else(|| "?".into())
        )),
    );
    field(
        "updated",
        model
            .last_modified
            .as_ref()
            .map(|t| format!("{} ({t})", relative_time(t, now))),
    );
    field("commit", model.sha.clone());
    field(
        "gated",
        Some(if model.gated.is_gated() {
            format!("yes ({:?}): accept the terms at {url}", model.gated).to_lowercase()
        } else {
            "no".into()
        }),
    );
    field(
        "parameters",
        output.parameters.map(|n| params_line(model, n)),
    );
    let known: u64 = model.siblings.iter().filter_map(|s| s.size).sum();
    let total = match output.total_size {
        Some(total) => bytes(total),
        None if known > 0 => format!("at least {}", bytes(known)),
        None => "sizes unknown".into(),
    };
    field(
        "files",
        Some(format!("{} files, {total}", model.siblings.len())),
    );
    let mut out = lines.join("\n");
    out.push_str("\n\n");
    let mut table = Table::new(&["FILE", ">SIZE", "STORAGE"]);
    for file in &model.siblings {
        table.row(vec![
            file.path.clone(),
            file.size.map(bytes).unwrap_or_else(|| "?".into()),
            if file.lfs.is_some() { "LFS" } else { "git" }.into(),
        ]);
    }
    if !table.is_empty() {
        out.push_str(&table.render());
    }
    out
}

fn license_line(license: &License) -> String {
    let mut line = license.name.clone();
    if let Some(id) = &license.id
        && !line.eq_ignore_ascii_case(id)
    {
        line = format!("{id} — {line}");
    }
    let notes = license.conditions.notes.join("; ");
    if notes.is_empty() {
        format!("{line} ({})", license.family.label())
    } else {
        format!("{line} ({}): {notes}", license.family.label())
    }
}

fn params_line(model: &ModelInfo, total: u64) -> String {
    let per_dtype: Vec<String> = model
        .safetensors
        .iter()
        .flat_map(|s| s.parameters.iter())
        .map(|(dtype, n)| format!("{dtype} {}", params(*n)))
        .collect();
    if per_dtype.is_empty() {
        params(total)
    } else {
        format!("{} ({})", params(total), per_dtype.join(", "))
    }
}
