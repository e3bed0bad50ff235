//! The Try tab's vision chat view (image-text-to-text) driven through its AccessKit tree
//! (egui_kittest, no GPU): the tiny LLaVA-1.5 (`scripts/reference/make_tiny_llava.py`) or
//! PaliGemma (`make_tiny_paligemma.py`) cached from the fixtures is loaded, a photo is dropped on
//! the view, a question typed and sent, and the answer PyTorch's greedy decoding gives streams
//! into the conversation beside the image.

use crate::support::ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use ui::{config, drop_file, harness, has_label_containing as has, wait_up_to};

const WAIT: Duration = Duration::from_secs(60);
const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

#[test]
fn a_question_about_a_dropped_image_is_answered_beside_it() {
    answers_beside_the_image("llava", "Loaded LLaVA", "question");
}

#[test]
fn paligemma_answers_too() {
    answers_beside_the_image("paligemma", "Loaded PaliGemma", "prompt");
}

/// Caches fixture `name` as `acme/<name>`, loads it in the Try tab (`loaded` names it), drops
/// the photo, sends the reference's `question_key` and waits for the reference's answer.
fn answers_beside_the_image(name: &str, loaded: &str, question_key: &str) {
    let home = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let source = fixtures.join("tiny").join(name);
    let folder = home.path().join(format!("hub/models--acme--{name}"));
    let snapshot = folder.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "reference.json" {
            std::fs::copy(source.join(&name), snapshot.join(&name)).unwrap();
        }
    }
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(source.join("reference.json")).unwrap())
            .unwrap();

    let mut harness = harness(config("http://127.0.0.1:9", home.path(), true));
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model(&format!("acme/{name}"));
    wait_up_to(&mut harness, WAIT, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
    wait_up_to(&mut harness, WAIT, "the Load button", |h| {
        has(h, "Load model")
    });
    harness.get_by_label("Load model").click();
    wait_up_to(&mut harness, WAIT, "the vision chat", |h| {
        has(h, "Open…") && has(h, loaded)
    });
    assert!(
        has(&harness, "Open, drop or paste an image"),
        "it asks for an image first"
    );

    drop_file(&mut harness, &fixtures.join("images/chelsea.png"));
    wait_up_to(&mut harness, WAIT, "the image", |h| {
        has(h, "chelsea.png · 451 × 300")
    });
    harness.get_by_label("Question").focus();
    harness.step();
    harness
        .get_by_label("Question")
        .type_text(reference[question_key].as_str().unwrap());
    harness.step();
    harness.get_by_label("Send").click();
    // PyTorch's 8 greedy tokens; the view generates more, which continue the same text.
    let answer = reference["answer"].as_str().unwrap();
    wait_up_to(&mut harness, WAIT, "the finished answer", |h| {
        has(h, answer) && has(h, "tok/s")
    });
    assert!(has(&harness, reference[question_key].as_str().unwrap()));
    assert!(has(&harness, "chelsea.png · 451 × 300"), "the image stays");
}
