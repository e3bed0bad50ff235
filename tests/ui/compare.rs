//! The Compare view (the arena) driven through its AccessKit tree (egui_kittest, no GPU): two
//! tiny chat models cached like downloads answer one prompt in two columns with their figures;
//! blind, the names stay hidden until a vote, then show.

use crate::support::cache;
use crate::support::ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ui::{
    App, app, config, harness_with, has_label, has_label_containing as has, labels, wait_up_to,
};

/// How long a test waits for something to appear (loading and generating on a debug build).
const WAIT: Duration = Duration::from_secs(90);

/// Caches the tiny `fixture` checkpoint as `acme/tiny-<fixture>`.
fn cache_tiny(home: &Path, fixture: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(fixture);
    cache::install(&home.join("hub"), &format!("acme/tiny-{fixture}"), &source);
}

/// An offline app over a cache holding the tiny llama and qwen2, at the size the view is
/// designed for.
fn arena(home: &Path) -> Harness<'static, App> {
    cache_tiny(home, "llama");
    cache_tiny(home, "qwen2");
    let builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    harness_with(config("http://127.0.0.1:9", home, true), builder)
}

fn wait_for(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&Harness<App>) -> bool) {
    wait_up_to(harness, WAIT, what, done);
}

/// The llama added from its model page, the qwen2 from the Add picker, and a prompt typed.
fn two_models_and_a_prompt(harness: &mut Harness<'static, App>) {
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("acme/tiny-llama");
    wait_for(harness, "the model page", |h| has(h, "Add to Compare"));
    harness.get_by_label("Add to Compare").click();
    wait_for(harness, "the llama in the Compare view", |h| {
        has(h, "acme/tiny-llama") && has(h, "Rescan")
    });
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Add")
        .click();
    wait_for(harness, "the qwen2 offered", |h| has(h, "acme/tiny-qwen2"));
    harness.get_by_label("acme/tiny-qwen2").click();
    harness.run_steps(2);
    harness.get_by_label("Prompt").focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_by_label("Prompt").type_text("t3 t17 t42");
    harness.run_steps(1);
}

/// Presses Run and waits for the finished comparison.
fn run(harness: &mut Harness<'static, App>) {
    harness.get_by_label("Run").click();
    wait_for(harness, "both answers", |h| has(h, "Export JSON"));
}

#[test]
fn two_chat_models_answer_one_prompt_side_by_side_with_their_figures() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = arena(home.path());
    two_models_and_a_prompt(&mut harness);
    run(&mut harness);

    assert!(
        has(&harness, "Model A · acme/tiny-llama"),
        "{:?}",
        labels(&harness)
    );
    assert!(has(&harness, "Model B · acme/tiny-qwen2"));
    for figure in ["Load", "First token", "Speed", "Total", "Peak memory"] {
        let count = harness.query_all_by_label(figure).count();
        assert_eq!(count, 2, "{figure} in each column");
    }
    assert_eq!(
        harness.query_all_by_label_contains(" tok/s").count(),
        2,
        "each column has its speed"
    );
    let comparison = app(&harness).comparison().expect("a finished comparison");
    assert_eq!(comparison.task, "text-generation");
    assert_eq!(comparison.input, "t3 t17 t42");
    for run in &comparison.runs {
        assert!(run.error.is_none(), "{run:?}");
        assert!(!run.answer.is_empty(), "{run:?}");
        assert!(has(&harness, &run.answer), "the answer is shown: {run:?}");
        let figures = &run.figures;
        assert!(figures.load_s.is_some() && figures.first_token_s.is_some());
        assert!(figures.tokens_per_s.is_some() && figures.peak_rss_bytes.is_some());
    }
}

#[test]
fn blind_mode_hides_the_names_until_a_vote_then_shows_them() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = arena(home.path());
    two_models_and_a_prompt(&mut harness);
    harness.get_by_label("Blind").click();
    harness.run_steps(1);
    run(&mut harness);

    assert!(
        !has(&harness, "acme/tiny"),
        "no name on screen before the vote: {:?}",
        labels(&harness)
    );
    assert!(has(&harness, "names hidden until you vote"));
    assert!(harness.query_all_by_label("Model A").next().is_some());
    assert!(harness.query_all_by_label("Model B").next().is_some());
    assert!(app(&harness).comparison().unwrap().names_hidden());

    harness.get_by_label("Vote for Model B").click();
    wait_for(&mut harness, "the names", |h| {
        has(h, "Model B · acme/tiny-")
    });
    assert!(has(&harness, "Model A · acme/tiny-"));
    assert!(has(&harness, "acme/tiny-llama") && has(&harness, "acme/tiny-qwen2"));
    assert!(has(&harness, "Winner"));
    assert!(!has(&harness, "Vote for"), "one vote per comparison");
    let comparison = app(&harness).comparison().unwrap();
    let winner = comparison.winner().expect("the vote is kept");
    assert_eq!(winner.label, "Model B");
    assert!(
        comparison
            .to_markdown()
            .contains("**Winner:** Model B (acme/tiny-")
    );
}

#[test]
fn the_cache_page_adds_a_model_to_the_comparison() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = arena(home.path());
    let ctx = harness.ctx.clone();
    harness.state_mut().as_mut().unwrap().open_cache(&ctx);
    wait_for(&mut harness, "the cached repos", |h| {
        h.query_all_by_label("Add to Compare").count() == 2
    });
    harness
        .query_all_by_label("Add to Compare")
        .nth(1)
        .unwrap()
        .click();
    wait_for(&mut harness, "the qwen2 in the Compare view", |h| {
        has(h, "acme/tiny-qwen2") && has(h, "Rescan")
    });
    assert!(
        !has(&harness, "acme/tiny-llama"),
        "only the model asked for is added"
    );
}

use crate::support::weights;

/// Stop answers at once: the real SmolLM2, stopped while it answers, leaves the view ready to
/// run again, and nothing of the stopped comparison arrives later.
#[test]
fn stop_ends_a_running_comparison_at_once() {
    let Some(gguf) = weights::real_weights("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let mut harness = arena(home.path());
    let smollm = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF";
    cache::install(&home.path().join("hub"), smollm, &gguf);
    for id in [smollm, "acme/tiny-llama"] {
        let repo = hubble::hub::RepoId::parse(id).unwrap();
        harness
            .state_mut()
            .as_mut()
            .unwrap()
            .open_compare(Some(repo));
    }
    wait_for(&mut harness, "both models", |h| {
        has(h, smollm) && has(h, "acme/tiny-llama") && has(h, "Rescan")
    });
    harness.get_by_label("Run").click();
    wait_for(&mut harness, "SmolLM2 answering", |h| has(h, "answering"));
    harness.get_by_label("Stop").click();
    let stopped = std::time::Instant::now();
    harness.run_steps(2);
    assert!(has(&harness, "Stopped."), "{:?}", labels(&harness));
    assert!(has_label(&harness, "Run") && !has_label(&harness, "Stop"));
    assert!(!has(&harness, "answering"));
    assert!(stopped.elapsed() < Duration::from_secs(1));
    for _ in 0..20 {
        harness.step();
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(app(&harness).comparison().is_none());
    assert!(!has(&harness, "Export JSON"), "nothing arrives after Stop");
}

/// Any task, not only chat: two text classifiers, the first added from its page setting the
/// task, get one text and answer in two columns.
#[test]
fn two_classifiers_answer_one_text_side_by_side() {
    let home = tempfile::tempdir().unwrap();
    cache_tiny(home.path(), "bert-cls");
    cache_tiny(home.path(), "roberta-cls");
    let builder = Harness::builder().with_size(egui::vec2(1280.0, 800.0));
    let mut harness = harness_with(config("http://127.0.0.1:9", home.path(), true), builder);
    harness.step();
    let repo = hubble::hub::RepoId::parse("acme/tiny-bert-cls").unwrap();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_compare(Some(repo));
    wait_for(&mut harness, "the classifier", |h| {
        has(h, "acme/tiny-bert-cls") && has(h, "Rescan")
    });
    let task = harness.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Task");
    assert_eq!(
        task.accesskit_node().value().as_deref(),
        Some("text-classification"),
        "the first model sets the task"
    );
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Add")
        .click();
    wait_for(&mut harness, "the other classifier offered", |h| {
        has(h, "acme/tiny-roberta-cls")
    });
    harness.get_by_label("acme/tiny-roberta-cls").click();
    harness.run_steps(2);
    harness.get_by_label("Input").focus();
    harness.run_steps(1);
    harness.get_by_label("Input").type_text("what a lovely day");
    harness.run_steps(1);
    run(&mut harness);

    assert!(
        has(&harness, "Model A · acme/tiny-bert-cls"),
        "{:?}",
        labels(&harness)
    );
    assert!(has(&harness, "Model B · acme/tiny-roberta-cls"));
    let comparison = app(&harness).comparison().expect("a finished comparison");
    assert_eq!(comparison.task, "text-classification");
    assert_eq!(comparison.input, "what a lovely day");
    for run in &comparison.runs {
        assert!(run.error.is_none(), "{run:?}");
        assert!(!run.answer.is_empty(), "{run:?}");
        assert!(run.figures.total_s.is_some() && run.figures.peak_rss_bytes.is_some());
    }
    assert_eq!(harness.query_all_by_label("Peak memory").count(), 2);
}
