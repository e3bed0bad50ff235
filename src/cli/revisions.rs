//! `hubble revisions`: a repository's branches and tags, and the newest commits of one revision.

use clap::Args;

use super::format::{Table, relative_time};
use super::print_json;
use crate::hub::{GitCommit, GitRefs, HubClient, HubError, RepoId, RepoType};

/// Arguments of `hubble revisions`.
#[derive(Debug, Args)]
pub struct RevisionsArgs {
    /// Repository id, e.g. google-bert/bert-base-uncased.
    pub repo: RepoId,
    /// `model` (default), `dataset` or `space`.
    #[arg(long, value_name = "TYPE", default_value = "model", value_parser = parse_repo_type)]
    pub repo_type: RepoType,
    /// Whose commits to list (default: main).
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// How many commits to list.
    #[arg(long, default_value_t = 10)]
    pub commits: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--repo-type` values.
pub(crate) fn parse_repo_type(text: &str) -> Result<RepoType, String> {
    RepoType::parse(text).ok_or_else(|| format!("{text:?} is not model, dataset or space"))
}

/// `hubble revisions --json` output.
#[derive(Debug, serde::Serialize)]
pub struct RevisionsOutput {
    /// The repository.
    pub repo: String,
    /// Its branches, tags and conversion refs.
    #[serde(flatten)]
    pub refs: GitRefs,
    /// The revision whose commits follow.
    pub revision: String,
    /// Its newest commits, newest first.
    pub commits: Vec<GitCommit>,
}

/// Runs `hubble revisions`.
pub async fn run(client: &HubClient, args: RevisionsArgs) -> Result<(), HubError> {
    let refs = client.list_refs(args.repo_type, &args.repo).await?;
    let commits = if args.commits == 0 {
        Vec::new()
    } else {
        client
            .list_commits(args.repo_type, &args.repo, &args.revision, args.commits)
            .await?
    };
    let output = RevisionsOutput {
        repo: args.repo.to_string(),
        refs,
        revision: args.revision,
        commits,
    };
    if args.json {
        return print_json(&output);
    }
    print!("{}", describe(&output));
    Ok(())
}

fn describe(output: &RevisionsOutput) -> String {
    let now = chrono::Utc::now();
    let mut refs = Table::new(&["KIND", "NAME", "COMMIT"]);
    let kinds = [
        ("branch", &output.refs.branches),
        ("tag", &output.refs.tags),
        ("convert", &output.refs.converts),
    ];
    for (kind, list) in kinds {
        for r in list {
            refs.row(vec![kind.into(), r.name.clone(), short(&r.target_commit)]);
        }
    }
    let mut commits = Table::new(&["COMMIT", "WHEN", "AUTHOR", "TITLE"]);
    for c in &output.commits {
        let authors: Vec<&str> = c.authors.iter().map(|a| a.user.as_str()).collect();
        commits.row(vec![
            short(&c.id),
            c.date
                .as_deref()
                .map(|d| relative_time(d, now))
                .unwrap_or_default(),
            authors.join(", "),
            c.title.clone(),
        ]);
    }
    let mut text = format!("{}\n{}", output.repo, refs.render());
    if !commits.is_empty() {
        text.push_str(&format!(
            "\nCommits of {}:\n{}",
            output.revision,
            commits.render()
        ));
    }
    text
}

/// The first 8 characters of a commit sha.
fn short(sha: &str) -> String {
    sha.chars().take(8).collect()
}
