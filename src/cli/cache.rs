//! `hubble cache ls|rm|prune|verify`: the Hugging Face cache, managed like `hf cache`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::exit;
use super::format::{Table, bytes, relative_time};
use crate::cache::manage::{self, CacheError};
use crate::config::HubConfig;

/// Arguments of `hubble cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CacheAction,
}

/// The `hubble cache` subcommands.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List cached repositories with sizes, revisions and last use.
    Ls {
        /// One line per revision.
        #[arg(long)]
        revisions: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove repositories (`org/name`) or revisions (`org/name@REV`, REV a commit or ref),
    /// with the blobs nothing else references.
    Rm {
        /// `org/name` or `org/name@revision`; repeatable.
        #[arg(required = true)]
        targets: Vec<String>,
        /// Show what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove detached revisions (no ref points at them) and unreferenced blobs.
    Prune {
        /// Show what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash blobs (sha256 or git sha1, by their names) and report mismatches.
    Verify {
        /// Only these repositories.
        repos: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl CacheArgs {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        match &self.action {
            CacheAction::Ls { json, .. }
            | CacheAction::Rm { json, .. }
            | CacheAction::Prune { json, .. }
            | CacheAction::Verify { json, .. } => *json,
        }
    }
}

/// Runs `hubble cache …` and returns the exit status.
pub fn run(config: &HubConfig, args: CacheArgs) -> ExitCode {
    let json = args.json();
    let root = &config.hub_cache;
    let result = match args.action {
        CacheAction::Ls { revisions, json } => {
            ls(root, revisions, json);
            Ok(ExitCode::SUCCESS)
        }
        CacheAction::Rm {
            targets,
            dry_run,
            json,
        } => rm(root, &targets, dry_run, json),
        CacheAction::Prune { dry_run, json } => manage::prune(root, dry_run).map(|removal| {
            print_removal(&removal, json);
            ExitCode::SUCCESS
        }),
        CacheAction::Verify { repos, json } => verify(root, &repos, json),
    };
    result.unwrap_or_else(|error| {
        let kind = match error {
            CacheError::NotFound(_) => "not_found",
            CacheError::Io { .. } => "io",
        };
        if json {
            let value = serde_json::json!({"error": {"kind": kind, "message": error.to_string()}});
            eprintln!("{value}");
        } else {
            eprintln!("error: {error}");
        }
        ExitCode::from(match error {
            CacheError::NotFound(_) => exit::NOT_FOUND,
            CacheError::Io { .. } => exit::FAILURE,
        })
    })
}

fn print<T: serde::Serialize>(value: &T) {
    if let Ok(text) = serde_json::to_string_pretty(value) {
        println!("{text}");
    }
}

fn ls(root: &std::path::Path, revisions: bool, json: bool) {
    let report = manage::scan(root);
    if json {
        print(&report);
        return;
    }
    let now = chrono::Utc::now();
    let when = |t: &Option<String>| {
        t.as_deref()
            .map(|t| relative_time(t, now))
            .unwrap_or_default()
    };
    let mut table = if revisions {
        Table::new(&["ID", "REVISION", "REFS", ">FILES", ">SIZE", "MODIFIED"])
    } else {
        Table::new(&[
            "ID", "TYPE", ">FILES", ">SIZE", "ACCESSED", "MODIFIED", "REFS",
        ])
    };
    for repo in &report.repos {
        if revisions {
            for rev in &repo.revisions {
                table.row(vec![
                    repo.repo_id.clone(),
                    rev.commit.clone(),
                    rev.refs.join(", "),
                    rev.nb_files.to_string(),
                    bytes(rev.size_on_disk),
                    when(&rev.last_modified),
                ]);
            }
        } else {
            table.row(vec![
                repo.repo_id.clone(),
                repo.repo_type.clone(),
                repo.nb_files.to_string(),
                bytes(repo.size_on_disk),
                when(&repo.last_accessed),
                when(&repo.last_modified),
                repo.refs.join(", "),
            ]);
        }
    }
    if table.is_empty() {
        println!("The cache at {} is empty.", root.display());
    } else {
        print!("{}", table.render());
        println!(
            "\n{} repos, {} on disk in {}",
            report.repos.len(),
            bytes(report.size_on_disk),
            root.display()
        );
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
}

fn rm(
    root: &std::path::Path,
    targets: &[String],
    dry_run: bool,
    json: bool,
) -> Result<ExitCode, CacheError> {
    let mut total = manage::Removal {
        dry_run,
        ..Default::default()
    };
    for target in targets {
        let (repo, revision) = match target.split_once('@') {
            Some((repo, rev)) => (repo, Some(rev)),
            None => (target.as_str(), None),
        };
        let removal = manage::remove(root, repo, revision, dry_run)?;
        total.revisions.extend(removal.revisions);
        total.repos.extend(removal.repos);
        total.blobs += removal.blobs;
        total.freed_bytes += removal.freed_bytes;
    }
    print_removal(&total, json);
    Ok(ExitCode::SUCCESS)
}

fn print_removal(removal: &manage::Removal, json: bool) {
    if json {
        print(removal);
        return;
    }
    let verb = if removal.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    for repo in &removal.repos {
        println!("{verb} repository {repo}");
    }
    for rev in &removal.revisions {
        println!("{verb} revision {rev}");
    }
    println!(
        "{verb} {} blobs, {} freed{}.",
        removal.blobs,
        bytes(removal.freed_bytes),
        if removal.dry_run { " (dry run)" } else { "" }
    );
}

fn verify(root: &std::path::Path, repos: &[String], json: bool) -> Result<ExitCode, CacheError> {
    let report = manage::verify(root, repos)?;
    if json {
        print(&report);
    } else {
        for bad in &report.bad {
            println!(
                "MISMATCH {} {} ({}: expected {}, got {})",
                bad.repo_id,
                bad.path.display(),
                bad.algorithm,
                bad.expected,
                if bad.actual.is_empty() {
                    "unreadable"
                } else {
                    &bad.actual
                }
            );
        }
        println!(
            "Checked {} blobs ({}), {} skipped, {} bad.",
            report.checked,
            bytes(report.checked_bytes),
            report.skipped,
            report.bad.len()
        );
    }
    Ok(if report.bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    })
}
