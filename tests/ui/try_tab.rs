//! The Try tab driven through its AccessKit tree (egui_kittest, no GPU): models cached from
//! the tiny fixtures are loaded on the inference thread and answer in the app.

use crate::support::ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use ui::{App, config, harness, has_label_containing as has, wait_up_to};

/// How long a test waits for something to appear (loading and generating on a debug build).
const WAIT: Duration = Duration::from_secs(60);

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// An offline app over `home`'s cache (the Try tab needs nothing but the cache).
fn offline_harness(home: &Path) -> Harness<'static, App> {
    harness(config("http://127.0.0.1:9", home, true))
}

fn wait_for(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&Harness<App>) -> bool) {
    wait_up_to(harness, WAIT, what, done);
}

/// Copies `files` of a tiny fixture into the cache as `id` at refs/main.
fn cache_fixture(home: &Path, id: &str, fixture: &str, files: &[&str]) {
    let folder = home
        .join("hub")
        .join(format!("models--{}", id.replace('/', "--")));
    let snapshot = folder.join("snapshots").join(COMMIT);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(fixture);
    for file in files {
        let target = snapshot.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(source.join(file), &target).unwrap();
    }
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();
}

fn open_try_tab(harness: &mut Harness<'static, App>, id: &str) {
    harness.state_mut().as_mut().unwrap().open_model(id);
    wait_for(harness, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
}

#[test]
fn chat_with_a_cached_causal_lm_streams_a_reply_with_speeds() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "acme/tiny-llama",
        "llama",
        &["config.json", "model.safetensors", "tokenizer.json"],
    );
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/tiny-llama");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the loaded model", |h| has(h, "Loaded "));
    assert!(
        has(&harness, "memory used:"),
        "the measured memory is shown"
    );
    harness.get_by_label("Message").focus();
    harness.step();
    harness.get_by_label("Message").type_text("hello there");
    harness.step();
    harness.get_by_label("Send").click();
    wait_for(&mut harness, "the finished reply", |h| {
        has(h, "generated at")
    });
    assert!(
        has(&harness, "hello there"),
        "the user's message stays in the transcript"
    );
    assert!(has(&harness, "Model"), "the reply is shown as the model's");
    assert!(has(&harness, "prompt tokens at"), "prompt speed shown");
    harness.get_by_label("Unload").click();
    wait_for(&mut harness, "Load offered again", |h| has(h, "Load model"));
}

#[test]
fn similarity_of_sentences_with_a_cached_sentence_transformer() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "acme/tiny-bert",
        "bert",
        &[
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "modules.json",
            "1_Pooling/config.json",
        ],
    );
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/tiny-bert");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the Compare button", |h| {
        h.query_all_by_label("Compare").next().is_some()
    });
    harness.get_by_label("Compare").click();
    wait_for(&mut harness, "the similarity matrix", |h| {
        has(h, "Cosine similarity")
    });
    assert!(has(&harness, "Most similar to “A man is eating food.”"));
    for i in 1..=3 {
        let diagonal = format!("similarity of {i} and {i}: 1.00");
        assert!(
            has(&harness, &diagonal),
            "a sentence is identical to itself"
        );
    }
}

#[test]
fn a_model_without_weights_in_the_cache_says_so_and_leads_to_files() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(home.path(), "acme/config-only", "llama", &["config.json"]);
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/config-only");
    wait_for(&mut harness, "the explanation", |h| {
        has(h, "can't be tried here yet")
    });
    assert!(has(&harness, "not in the cache yet"));
    harness.get_by_label("Go to Files to download it").click();
    wait_for(&mut harness, "the Files tab", |h| {
        !has(h, "can't be tried here yet") && has(h, "config.json")
    });
}

#[test]
fn text_classification_shows_labelled_probability_bars() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "acme/tiny-sentiment",
        "bert-cls",
        &["config.json", "model.safetensors", "tokenizer.json"],
    );
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/tiny-sentiment");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the Run button", |h| has(h, "Run"));
    harness.get_by_label("Run").click();
    wait_for(&mut harness, "the labels", |h| {
        has(h, "negative") && has(h, "neutral") && has(h, "positive")
    });
    assert!(
        has(&harness, "I love this movie"),
        "the classified text is shown"
    );
}

#[test]
fn summarisation_streams_the_output_with_the_models_prefix() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "acme/tiny-t5",
        "flan-t5",
        &["config.json", "model.safetensors", "tokenizer.json"],
    );
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/tiny-t5");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    // The tab offers translation first (T5's default); pick summarisation.
    harness.get_by_label("Task").click();
    wait_for(&mut harness, "the task list", |h| has(h, "summarization"));
    harness.get_by_label("summarization").click();
    harness.step();
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the Summarize button", |h| {
        has(h, "Text to summarise:")
    });
    assert!(
        has(&harness, "summarization"),
        "the model's own prefix is offered"
    );
    harness.get_by_label("Text to summarise:").focus();
    harness.step();
    harness
        .get_by_label("Text to summarise:")
        .type_text("a man is eating food on the mat");
    harness.step();
    harness.get_by_label("Summarize").click();
    wait_for(&mut harness, "the finished summary", |h| {
        has(h, "generated at")
    });
    assert!(
        has(&harness, "11 input tokens"),
        "prefix + text + </s> were encoded"
    );
}

#[test]
fn translation_with_a_marian_model_reads_its_sentencepiece_files() {
    let home = tempfile::tempdir().unwrap();
    let files = [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "source.spm",
        "target.spm",
        "tokenizer_config.json",
        "vocab.json",
    ];
    cache_fixture(home.path(), "acme/tiny-marian", "marian", &files);
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/tiny-marian");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the Translate button", |h| {
        has(h, "Text to translate:")
    });
    harness.get_by_label("Prefix").focus();
    harness.step();
    harness.get_by_label("Prefix").type_text(">>de<< ");
    harness.get_by_label("Text to translate:").focus();
    harness.step();
    harness
        .get_by_label("Text to translate:")
        .type_text("The cat sat on the mat.");
    harness.step();
    harness.get_by_label("Translate").click();
    wait_for(&mut harness, "the finished translation", |h| {
        has(h, "generated at")
    });
    assert!(
        has(&harness, "14 input tokens"),
        ">>de<< + the pieces + </s> were encoded"
    );
    // Greedy, so it begins with the text PyTorch produced (tests/fixtures/tiny/marian).
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/marian/reference.json"),
    )
    .unwrap();
    let reference: serde_json::Value = serde_json::from_str(&reference).unwrap();
    assert!(has(&harness, reference["greedy_text"].as_str().unwrap()));
}

/// A load that takes as long as the test wants: the checkpoint's generation_config.json is a
/// named pipe, and opening a pipe for reading waits for a writer — as a stalled network share
/// would. The load thread blocks there after the weights; Cancel must not wait for it.
#[test]
fn cancel_during_a_slow_load_answers_at_once() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "acme/slow-llama",
        "llama",
        &["config.json", "model.safetensors", "tokenizer.json"],
    );
    let pipe = home
        .path()
        .join("hub/models--acme--slow-llama/snapshots")
        .join(COMMIT)
        .join("generation_config.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    // However the app behaves, the pipe gets a writer after 30 s so no thread hangs for ever.
    let release = pipe.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = std::fs::write(release, b"{}");
    });
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/slow-llama");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the load under way", |h| has(h, "Cancel"));
    // The weights are read; the thread now waits on the pipe.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        has(&harness, "Loading"),
        "still loading: the pipe has no writer"
    );
    let started = std::time::Instant::now();
    harness.get_by_label("Cancel").click();
    // The click lands in the next frame, which drops the load; the one after draws the tab
    // without it. The old code joined the loading thread there and froze until the pipe opened.
    let mut frames = 0;
    while !has(&harness, "Load model") && frames < 5 {
        harness.step();
        frames += 1;
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "Cancel took {took:?}: the window froze until the load ended"
    );
    assert!(
        has(&harness, "Load model"),
        "{frames} frames after Cancel the tab still loads: {:?}",
        ui::labels(&harness)
    );
    assert!(frames <= 3, "Cancel took {frames} frames");
}

/// The Hub's metadata of the real deepset/roberta-base-squad2 (a recorded answer the fixture
/// hub serves): the Try tab plans from it before anything is downloaded.
#[test]
fn a_question_answering_model_not_downloaded_says_whether_it_runs_here() {
    let hub = fixture_hub::FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = ui::harness(config(&hub.url(), home.path(), false));
    open_try_tab(&mut harness, "deepset/roberta-base-squad2");
    wait_for(&mut harness, "the plan from the Hub's metadata", |h| {
        has(h, "works here") || has(h, "won't change that")
    });
    assert!(
        has(&harness, "question-answering works here"),
        "the verdict names the task"
    );
    assert!(has(&harness, "once its files are downloaded"));
    assert!(
        !home
            .path()
            .join("hub/models--deepset--roberta-base-squad2")
            .exists()
    );
}

#[test]
fn question_answering_highlights_the_answer_in_its_context() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "acme/tiny-qa",
        "bert-qa",
        &["config.json", "model.safetensors", "tokenizer.json"],
    );
    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, "acme/tiny-qa");
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the Answer button", |h| {
        ui::has_label(h, "Answer")
    });
    harness.get_by_label("Answer").click();
    wait_for(&mut harness, "the answers", |h| has(h, "%  "));
    // The best answer is listed with its score and is a piece of the context shown above.
    let labels = ui::labels(&harness);
    let best = labels
        .iter()
        .find_map(|l| l.split_once("%  ").map(|(_, answer)| answer.to_string()))
        .expect("a scored answer");
    assert!(!best.is_empty());
    // The context, shown again with the answer marked in it (its own label: the text box's
    // label is "Context").
    let context = "Hubble is a native desktop explorer for the Hugging Face Hub.";
    assert!(
        has(&harness, context),
        "the context is shown with its answer"
    );
    assert!(
        context.to_lowercase().contains(&best.to_lowercase())
            || "It is written in Rust and runs models on this machine.".contains(&best),
        "the answer {best:?} comes from the context"
    );
}

use crate::support::gguf;

/// The device picker lists the wgpu adapters (lavapipe here, or `HUBBLE_TEST_ADAPTER`), and a
/// GGUF model loaded on the one picked streams its reply there.
#[test]
fn the_device_picker_lists_an_adapter_and_a_load_on_it_streams_tokens() {
    let home = tempfile::tempdir().unwrap();
    let id = "acme/tiny-llama-gguf";
    let snapshot = home
        .path()
        .join("hub/models--acme--tiny-llama-gguf/snapshots")
        .join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/llama");
    gguf::convert(&fixture, &snapshot.join("tiny-llama-f32.gguf"));
    let refs = home.path().join("hub/models--acme--tiny-llama-gguf/refs");
    std::fs::create_dir_all(&refs).unwrap();
    std::fs::write(refs.join("main"), COMMIT).unwrap();
    let adapter = std::env::var("HUBBLE_TEST_ADAPTER").unwrap_or_else(|_| "llvmpipe".into());

    let mut harness = offline_harness(home.path());
    open_try_tab(&mut harness, id);
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    let device_picker = |h: &Harness<'static, App>| {
        h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Device")
            .click();
    };
    // The adapters are listed off the UI thread; the open picker shows them once known.
    device_picker(&harness);
    wait_for(&mut harness, "the adapter in the picker", |h| {
        has(h, &format!("— {adapter}"))
    });
    harness
        .query_all_by_label_contains(&format!("— {adapter}"))
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the model loaded on the adapter", |h| {
        has(h, "Loaded ") && has(h, "on wgpu:")
    });
    assert!(
        has(&harness, "GPU memory used:"),
        "the model's buffers on the GPU are shown"
    );
    harness.get_by_label("Message").focus();
    harness.step();
    harness.get_by_label("Message").type_text("t3 t17 t42");
    harness.step();
    harness.get_by_label("Send").click();
    wait_for(&mut harness, "the finished reply", |h| {
        has(h, "generated at")
    });
    assert!(has(&harness, "prompt tokens at"), "prompt speed shown");
}
