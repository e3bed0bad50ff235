//! A comparison as Markdown: the input, a table of figures, the vote, then each answer.

use std::fmt::Write;

use super::comparison::{Comparison, Figures};

impl Comparison {
    /// The export ([`Comparison::export`]) as Markdown: names only once they are not hidden.
    pub fn to_markdown(&self) -> String {
        let shown = self.export();
        let hidden = self.names_hidden();
        let mut out = format!("# Hubble compare: {}\n\n", shown.task);
        let _ = writeln!(out, "**Input:**\n\n{}\n", quote(&shown.input));
        let titles: Vec<&str> = Figures::default()
            .cells()
            .iter()
            .map(|(title, _)| *title)
            .collect();
        let _ = writeln!(out, "| | Model | {} |", titles.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(2 + titles.len()));
        for run in &shown.runs {
            let model = run.model.as_deref().unwrap_or("(hidden)");
            let cells: Vec<String> = run.figures.cells().into_iter().map(|(_, v)| v).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                run.label,
                cell(model),
                cells.join(" | ")
            );
        }
        out.push('\n');
        match (shown.vote.and_then(|i| shown.runs.get(i)), hidden) {
            (Some(winner), _) => {
                let model = winner.model.as_deref().unwrap_or_default();
                let _ = writeln!(out, "**Winner:** {} ({model})\n", winner.label);
            }
            (None, true) => out.push_str("_Blind: the names stay hidden until a vote._\n\n"),
            (None, false) => {}
        }
        for run in &shown.runs {
            let _ = writeln!(out, "## {}\n", shown.title(run));
            if let Some(loaded) = &run.loaded {
                let _ = writeln!(out, "_{loaded}_\n");
            }
            if let Some(error) = &run.error {
                let _ = writeln!(out, "**Failed:** {error}\n");
            }
            if !run.answer.is_empty() {
                let _ = writeln!(out, "{}\n", quote(&run.answer));
            }
        }
        out
    }
}

/// Text as a Markdown block quote, every line kept.
fn quote(text: &str) -> String {
    text.lines()
        .map(|line| format!("> {line}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text fit for one table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use crate::compare::{Comparison, Figures, RunResult};

    fn comparison(blind: bool) -> Comparison {
        let run = |model: &str, answer: &str, rate: f64| RunResult {
            model: Some(model.into()),
            loaded: Some("llama on cpu".into()),
            answer: answer.into(),
            figures: Figures {
                load_s: Some(1.25),
                first_token_s: Some(0.1),
                total_s: Some(2.0),
                tokens_per_s: Some(rate),
                peak_rss_bytes: Some(2_000_000_000),
                rss_rise_bytes: Some(150_000_000),
                ..Figures::default()
            },
            ..RunResult::default()
        };
        Comparison::new(
            "text-generation".into(),
            "Name a colour.\nJust one.".into(),
            blind,
            vec![1, 0],
            vec![
                run("org/a|b", "Blue.", 50.0),
                run("org/c", "Red,\nsurely.", 20.0),
            ],
        )
    }

    #[test]
    fn markdown_has_the_figures_table_and_every_answer() {
        let md = comparison(false).to_markdown();
        assert!(md.starts_with("# Hubble compare: text-generation\n"));
        assert!(md.contains("> Name a colour.\n> Just one."), "{md}");
        assert!(
            md.contains(
                "| | Model | Load | First token | Speed | Total | Peak memory |\n|---|---|---|---|---|---|---|"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| Model A | org/c | 1.25 s | 0.10 s | 20.0 tok/s | 2.00 s | 2.00 GB (+150.0 MB) |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| Model B | org/a\\|b |"),
            "pipes escaped: {md}"
        );
        assert!(md.contains("## Model A · org/c\n\n_llama on cpu_\n\n> Red,\n> surely."));
        assert!(md.find("## Model A").unwrap() < md.find("## Model B").unwrap());
    }

    #[test]
    fn blind_markdown_names_nobody_until_the_vote() {
        let mut c = comparison(true);
        let md = c.to_markdown();
        assert!(!md.contains("org/"), "{md}");
        assert!(md.contains("| Model A | (hidden) |"));
        assert!(md.contains("names stay hidden until a vote"));
        c.vote_for(1);
        let md = c.to_markdown();
        assert!(md.contains("**Winner:** Model B (org/a|b)"), "{md}");
        assert!(md.contains("## Model B · org/a|b"));
    }
}
