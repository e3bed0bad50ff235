//! `hubble compare REPO[:FILE] REPO[:FILE] [...] --task … --input …`: 2–4 cached models (or
//! GGUF quants of one repo) answer the same input in turn; their answers are printed one after
//! the other, then a table of what each cost (load, first token, speed, total, peak memory).
//! `--blind` shows them as Model A, B, … in a shuffled order and reads a vote from stdin before
//! naming them; `--json` prints the comparison, `--markdown FILE` writes it.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::exit;
use super::format::Table;
use super::run::{Failure, TaskArgs, cached_snapshot, exit_status, fail, written_out};
use crate::compare::{Comparison, Figures, Job, MAX_ENTRIES, MIN_ENTRIES, Progress, Runner, label};
use crate::config::HubConfig;
use crate::infer::cached::{CachedEntry, parse_name};
use crate::infer::{InferError, registry};

/// Arguments of `hubble compare`.
pub type CompareArgs = TaskArgs<Contenders>;

/// What `hubble compare` compares, and how it shows them.
#[derive(Debug, clap::Args)]
pub struct Contenders {
    /// 2 to 4 downloaded models of one task: REPO, or REPO:FILE for one GGUF file of a repo
    /// (two quants of one model are two entries).
    #[arg(value_name = "REPO[:FILE]", required = true)]
    pub models: Vec<String>,
    /// Hide the names: the answers are shown as Model A, B, … in a shuffled order, and a vote
    /// read from stdin (the winner's letter) reveals them.
    #[arg(long)]
    pub blind: bool,
    /// Also write the comparison as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// Runs `hubble compare` and returns the exit status.
pub fn main(config: &HubConfig, args: CompareArgs) -> ExitCode {
    let json = args.common.json;
    exit_status(compare(config, args), json)
}

fn compare(config: &HubConfig, args: CompareArgs) -> Result<(), Failure> {
    let count = args.own.models.len();
    if !(MIN_ENTRIES..=MAX_ENTRIES).contains(&count) {
        return Err((
            exit::USAGE,
            "invalid_input",
            format!("compare takes {MIN_ENTRIES} to {MAX_ENTRIES} models, not {count}"),
        ));
    }
    if args.common.input_file.as_deref() == Some(std::path::Path::new("-")) {
        return Err((
            exit::USAGE,
            "invalid_input",
            "compare reads the input once per model: pass --input or a file, not stdin".into(),
        ));
    }
    let entries = args
        .own
        .models
        .iter()
        .map(|name| entry(config, name))
        .collect::<Result<Vec<CachedEntry>, Failure>>()?;
    let names: Vec<String> = entries.iter().map(CachedEntry::to_string).collect();
    let (json, blind) = (args.common.json, args.own.blind);
    let input = args.input;
    let job = Job {
        task: args.common.task()?,
        entries,
        device: args.common.device()?,
        request: Box::new(move |task| registry::cli_request(task, &input)),
        input: match &args.common.input_file {
            Some(path) => path.display().to_string(),
            None => args.common.input.join("\n"),
        },
        blind,
    };
    let mut comparison = watch(Runner::start(job, None), &names, blind, json)?;
    if json {
        written_out(writeln!(
            std::io::stdout().lock(),
            "{}",
            comparison.to_json()
        ))?;
    } else {
        written_out(write!(std::io::stdout().lock(), "{}", answers(&comparison)))?;
        if comparison.blind {
            ask_vote(&mut comparison);
        }
        written_out(write!(std::io::stdout().lock(), "{}", figures(&comparison)))?;
    }
    if let Some(path) = &args.own.markdown {
        std::fs::write(path, comparison.to_markdown()).map_err(|e| {
            let message = format!("could not write {}: {e}", path.display());
            (exit::FAILURE, "io", message)
        })?;
    }
    let failed = comparison.runs.iter().filter(|r| r.error.is_some()).count();
    match failed {
        0 => Ok(()),
        n => Err((
            exit::FAILURE,
            "inference",
            format!("{n} of {count} models failed"),
        )),
    }
}

/// `REPO[:FILE]` → the cached snapshot, or why not.
fn entry(config: &HubConfig, name: &str) -> Result<CachedEntry, Failure> {
    let (repo, file) =
        parse_name(name).map_err(|message| (exit::USAGE, "invalid_input", message))?;
    let dir = cached_snapshot(config, &repo, "main")?;
    Ok(CachedEntry { repo, file, dir })
}

/// Follows the runner to the end, telling stderr how it goes (unless `json`); while `blind`,
/// the models are named by their letters.
fn watch(runner: Runner, names: &[String], blind: bool, json: bool) -> Result<Comparison, Failure> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    let who = |order: &[usize], index: usize| match blind {
        true => label(order.iter().position(|&i| i == index).unwrap_or(index)),
        false => names[index].clone(),
    };
    while let Some(progress) = runner.recv() {
        let line = match progress {
            Progress::Planned { task, order: shown } => {
                order = shown;
                format!("comparing {} models on {task}", names.len())
            }
            Progress::Status { index, line } => format!("[{}] {line}", who(&order, index)),
            Progress::Loaded { index, description } => match blind {
                true => format!("[{}] loaded", who(&order, index)),
                false => format!("[{}] loaded {description}", who(&order, index)),
            },
            Progress::Token { .. } => continue,
            Progress::Done { index, result } => {
                let how = match &result.error {
                    Some(error) => format!("failed: {error}"),
                    None => format!("done in {:.2} s", result.figures.total_s.unwrap_or(0.0)),
                };
                format!("[{}] {how}", who(&order, index))
            }
            Progress::Finished(comparison) => return Ok(comparison),
            Progress::Failed { model, error } => {
                let (status, kind, message) = fail(error);
                let message = match model {
                    Some(model) => format!("{model}: {message}"),
                    None => message,
                };
                return Err((status, kind, message));
            }
        };
        if !json {
            eprintln!("{line}");
        }
    }
    Err(fail(InferError::WorkerGone))
}

/// Each answer under its title, in the shown order.
fn answers(comparison: &Comparison) -> String {
    let mut out = String::new();
    for run in comparison.shown() {
        out.push_str(&format!("── {} ──\n", comparison.title(run)));
        match &run.error {
            Some(error) => out.push_str(&format!("(failed: {error})\n")),
            None if run.answer.is_empty() => out.push_str("(no text output)\n"),
            None => out.push_str(&format!("{}\n", run.answer)),
        }
        out.push('\n');
    }
    out
}

/// The table of figures, then the winner.
fn figures(comparison: &Comparison) -> String {
    let mut titles = vec!["", "model"];
    let cells = Figures::default().cells();
    titles.extend(cells.iter().map(|(title, _)| *title));
    let mut table = Table::new(&titles);
    for run in comparison.shown() {
        let model = match comparison.names_hidden() {
            true => "(hidden)".to_string(),
            false => run.model.clone().unwrap_or_default(),
        };
        let mut row = vec![run.label.clone(), model];
        row.extend(run.figures.cells().into_iter().map(|(_, value)| value));
        table.row(row);
    }
    let mut out = table.render();
    if let Some(winner) = comparison.winner() {
        out.push_str(&format!("\nwinner: {}\n", comparison.title(winner)));
    }
    out
}

/// Reads the winner's letter from stdin; the names show once one is given.
fn ask_vote(comparison: &mut Comparison) {
    let last = label(comparison.order.len() - 1);
    eprint!(
        "Which answer is best? Type its letter (A–{}) and Enter: ",
        last.trim_start_matches("Model ")
    );
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    let letter = line.trim().to_ascii_uppercase();
    let position = (0..comparison.order.len()).find(|&p| label(p) == format!("Model {letter}"));
    match (read, position) {
        (Ok(_), Some(position)) => comparison.vote_for(position),
        _ => eprintln!("\nNo vote: the names stay hidden."),
    }
}
