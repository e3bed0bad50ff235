//! What a comparison found: each run's answer and figures, the order the runs are shown in
//! (shuffled when blind), the vote, and the JSON export (Markdown: `markdown.rs`).

use std::hash::{BuildHasher, Hasher};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::format::bytes;

/// What one run cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Seconds from starting the model to its being ready.
    pub load_s: Option<f64>,
    /// Seconds from the request to the first streamed piece (a token, a segment, a step).
    pub first_token_s: Option<f64>,
    /// Seconds from the request to the answer: the latency.
    pub total_s: Option<f64>,
    /// Tokens generated (the generating tasks).
    pub generated_tokens: Option<u64>,
    /// Generation speed after the first token, in tokens/s (the generating tasks).
    pub tokens_per_s: Option<f64>,
    /// The most resident memory the process held while the model loaded and ran.
    pub peak_rss_bytes: Option<u64>,
    /// How far that peak rose above the resident memory before the model started.
    pub rss_rise_bytes: Option<u64>,
    /// What the model held on a wgpu device, when it ran there.
    pub gpu_bytes: Option<u64>,
}

impl Figures {
    /// The figures as (title, value) cells, in the order every front end shows them; `–` where
    /// a figure is unknown or does not apply.
    pub fn cells(&self) -> [(&'static str, String); 5] {
        let secs = |s: Option<f64>| s.map_or_else(|| "–".into(), |s| format!("{s:.2} s"));
        let speed = self
            .tokens_per_s
            .map_or_else(|| "–".into(), |rate| format!("{rate:.1} tok/s"));
        let mut memory = self.peak_rss_bytes.map_or_else(|| "–".into(), bytes);
        if let Some(rise) = self.rss_rise_bytes {
            memory.push_str(&format!(" (+{})", bytes(rise)));
        }
        if let Some(gpu) = self.gpu_bytes {
            memory.push_str(&format!(", {} on the GPU", bytes(gpu)));
        }
        [
            ("Load", secs(self.load_s)),
            ("First token", secs(self.first_token_s)),
            ("Speed", speed),
            ("Total", secs(self.total_s)),
            ("Peak memory", memory),
        ]
    }
}

/// One model's answer and figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `Model A`, `Model B`, …: its place in the shown order.
    pub label: String,
    /// `org/name` or `org/name:file.gguf`; `None` in an export whose names are hidden.
    pub model: Option<String>,
    /// What loaded (architecture, format, device); hidden with the name.
    pub loaded: Option<String>,
    /// The answer as text: the streamed text or transcript, then the task's own summary.
    pub answer: String,
    /// Why the model failed to load or run, if it did.
    pub error: Option<String>,
    /// What it cost.
    #[serde(flatten)]
    pub figures: Figures,
    /// The task's JSON output; hidden with the name (it may name the model).
    pub output: Option<serde_json::Value>,
}

/// A finished comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The task every model ran (its pipeline tag).
    pub task: String,
    /// The input, as a person would describe it (the prompt, a file name).
    pub input: String,
    /// Whether the names stay hidden until a vote.
    pub blind: bool,
    /// The order the runs are shown in, as indices into `runs` (shuffled when blind).
    pub order: Vec<usize>,
    /// The winner, as an index into `runs`, once a vote is cast.
    pub vote: Option<usize>,
    /// The runs, in the order they ran.
    pub runs: Vec<RunResult>,
}

/// The name of the run shown at `position`: `Model A`, `Model B`, …
pub fn label(position: usize) -> String {
    let letter = (b'A'..=b'Z').nth(position).map_or('?', char::from);
    format!("Model {letter}")
}

/// The order `n` runs are shown in: as they ran, or shuffled (by `seed`) when blind.
pub fn blind_order(n: usize, blind: bool, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if blind {
        order.shuffle(&mut StdRng::seed_from_u64(seed));
    }
    order
}

/// A seed nobody can guess from the models picked: the standard library's per-process random
/// hash keys.
pub(super) fn fresh_seed() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

impl Comparison {
    /// A comparison of `runs` shown in `order`; each run is labelled by its place there.
    pub fn new(
        task: String,
        input: String,
        blind: bool,
        order: Vec<usize>,
        mut runs: Vec<RunResult>,
    ) -> Comparison {
        for (position, &index) in order.iter().enumerate() {
            if let Some(run) = runs.get_mut(index) {
                run.label = label(position);
            }
        }
        Comparison {
            task,
            input,
            blind,
            order,
            vote: None,
            runs,
        }
    }

    /// Whether the names are hidden: blind, and no vote yet.
    pub fn names_hidden(&self) -> bool {
        self.blind && self.vote.is_none()
    }

    /// The runs in the order they are shown.
    pub fn shown(&self) -> impl Iterator<Item = &RunResult> {
        self.order.iter().filter_map(|&i| self.runs.get(i))
    }

    /// Votes for the run shown at `position`, which reveals the names.
    pub fn vote_for(&mut self, position: usize) {
        if let Some(&index) = self.order.get(position) {
            self.vote = Some(index);
        }
    }

    /// The run voted best, if any.
    pub fn winner(&self) -> Option<&RunResult> {
        self.vote.and_then(|i| self.runs.get(i))
    }

    /// How a run is titled: its label, with its model once names are not hidden.
    pub fn title(&self, run: &RunResult) -> String {
        match (&run.model, self.names_hidden()) {
            (Some(model), false) => format!("{} · {model}", run.label),
            _ => run.label.clone(),
        }
    }

    /// What an export holds: the runs in the shown order, and while the names are hidden
    /// nothing that would give them away (model, what loaded, the task's own output).
    pub fn export(&self) -> Comparison {
        let hidden = self.names_hidden();
        let runs: Vec<RunResult> = self
            .shown()
            .map(|run| {
                let mut run = run.clone();
                if hidden {
                    run.model = None;
                    run.loaded = None;
                    run.output = None;
                }
                run
            })
            .collect();
        Comparison {
            task: self.task.clone(),
            input: self.input.clone(),
            blind: self.blind,
            order: (0..runs.len()).collect(),
            vote: self
                .vote
                .and_then(|winner| self.order.iter().position(|&i| i == winner)),
            runs,
        }
    }

    /// The export as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.export()).expect("a comparison is plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(model: &str, answer: &str) -> RunResult {
        RunResult {
            model: Some(model.into()),
            loaded: Some(format!("{model} on cpu")),
            answer: answer.into(),
            output: Some(serde_json::json!({"model": model})),
            figures: Figures {
                load_s: Some(0.5),
                tokens_per_s: Some(42.0),
                peak_rss_bytes: Some(300_000_000),
                rss_rise_bytes: Some(120_000_000),
                ..Figures::default()
            },
            ..RunResult::default()
        }
    }

    fn two(blind: bool, order: Vec<usize>) -> Comparison {
        let runs = vec![run("org/first", "one"), run("org/second", "two")];
        Comparison::new("text-generation".into(), "hi".into(), blind, order, runs)
    }

    #[test]
    fn blind_order_is_a_seeded_permutation_and_open_order_is_the_run_order() {
        assert_eq!(blind_order(4, false, 7), [0, 1, 2, 3]);
        let shuffled = blind_order(4, true, 7);
        assert_eq!(shuffled, blind_order(4, true, 7), "the seed decides");
        let mut sorted = shuffled.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3]);
        let orders: std::collections::HashSet<Vec<usize>> =
            (0..64).map(|seed| blind_order(4, true, seed)).collect();
        assert!(orders.len() > 10, "seeds give many orders: {orders:?}");
        assert_ne!(fresh_seed(), fresh_seed());
    }

    #[test]
    fn labels_follow_the_shown_order() {
        let c = two(true, vec![1, 0]);
        assert_eq!(c.runs[1].label, "Model A");
        assert_eq!(c.runs[0].label, "Model B");
        let shown: Vec<&str> = c.shown().map(|r| r.answer.as_str()).collect();
        assert_eq!(shown, ["two", "one"]);
        assert_eq!(label(3), "Model D");
    }

    #[test]
    fn blind_names_stay_hidden_until_a_vote_then_show() {
        let mut c = two(true, vec![1, 0]);
        assert!(c.names_hidden());
        assert_eq!(c.title(&c.runs[1]), "Model A");
        let json = c.to_json();
        assert!(
            !json.contains("org/"),
            "no name leaks before the vote: {json}"
        );
        let export = c.export();
        assert_eq!(export.runs[0].answer, "two", "exported in the shown order");
        assert_eq!(export.runs[0].output, None);

        c.vote_for(1);
        assert!(!c.names_hidden());
        assert_eq!(c.winner().unwrap().model.as_deref(), Some("org/first"));
        assert_eq!(c.title(&c.runs[0]), "Model B · org/first");
        let export: Comparison = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(
            export.vote,
            Some(1),
            "the winner's place in the shown order"
        );
        assert_eq!(export.runs[1].model.as_deref(), Some("org/first"));
        assert_eq!(export.runs[1].figures.tokens_per_s, Some(42.0));
    }

    #[test]
    fn open_comparisons_show_names_and_every_figure() {
        let c = two(false, vec![0, 1]);
        assert!(!c.names_hidden());
        let value: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(value["runs"][0]["model"], "org/first");
        assert_eq!(value["runs"][0]["load_s"], 0.5);
        assert_eq!(value["runs"][0]["peak_rss_bytes"], 300_000_000);
        let cells = c.runs[0].figures.cells();
        assert_eq!(cells[0], ("Load", "0.50 s".to_string()));
        assert_eq!(cells[1].1, "–");
        assert_eq!(cells[2].1, "42.0 tok/s");
        assert_eq!(cells[4].1, "300.0 MB (+120.0 MB)");
    }
}
