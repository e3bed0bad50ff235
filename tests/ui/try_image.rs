//! The Try tab's image view driven through its AccessKit tree (egui_kittest, no GPU): a tiny
//! ViT classifier cached from the fixtures is loaded, an image file is dropped on the tab
//! (`RawInput::dropped_files`, as winit delivers it) and the ranked labels appear; a file of
//! the wrong type and a truncated PNG are refused with a message; the tiny BLIP captioner
//! writes its caption beside the dropped photo, and with a typed prompt.

use crate::support::ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use ui::{App, config, drop_file, harness, has_label_containing as has, wait_up_to};

const WAIT: Duration = Duration::from_secs(60);
const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn wait_for(harness: &mut Harness<'static, App>, what: &str, done: impl Fn(&Harness<App>) -> bool) {
    wait_up_to(harness, WAIT, what, done);
}

/// Caches tiny fixture `fixture` (weights, config, processor and `extra` files) as
/// `acme/<fixture>` and opens its Try tab with the model loaded.
fn loaded(home: &Path, fixture: &str, extra: &[&str]) -> Harness<'static, App> {
    let folder = home.join(format!("hub/models--acme--{fixture}"));
    let snapshot = folder.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(fixture);
    let files = [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ];
    for file in files.iter().chain(extra) {
        std::fs::copy(source.join(file), snapshot.join(file)).unwrap();
    }
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();
    let mut harness = harness(config("http://127.0.0.1:9", home, true));
    let id = format!("acme/{fixture}");
    harness.state_mut().as_mut().unwrap().open_model(&id);
    wait_for(&mut harness, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
    wait_for(&mut harness, "the Load button", |h| has(h, "Load model"));
    harness.get_by_label("Load model").click();
    wait_for(&mut harness, "the image input", |h| has(h, "Open…"));
    harness
}

#[test]
fn dropping_an_image_shows_ranked_labels() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "vit-cls", &[]);
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/chelsea.png");
    drop_file(&mut harness, &photo);
    wait_for(&mut harness, "the labels", |h| has(h, "47.2%"));
    // PyTorch's softmax of the reference logits: car 47.2%, house 28.4%, tree 11.6%, dog 8.6%,
    // cat 4.2%; the bars come in that order, top to bottom.
    let tops: Vec<f32> = ["car", "house", "tree", "dog", "cat"]
        .iter()
        .map(|label| harness.get_by_label(label).rect().top())
        .collect();
    assert!(tops.windows(2).all(|w| w[0] < w[1]), "ranked: {tops:?}");
    assert!(
        has(&harness, "chelsea.png · 451 × 300"),
        "the image is named"
    );
}

#[test]
fn wrong_type_and_truncated_images_are_refused_with_a_message() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "vit-cls", &[]);
    let notes = home.path().join("notes.txt");
    std::fs::write(&notes, "not an image").unwrap();
    drop_file(&mut harness, &notes);
    wait_for(&mut harness, "the refusal", |h| {
        has(h, "notes.txt is not an image: use .png")
    });
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/chelsea.png");
    let bytes = std::fs::read(photo).unwrap();
    let truncated = home.path().join("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    drop_file(&mut harness, &truncated);
    wait_for(&mut harness, "the decode error", |h| {
        has(h, "truncated.png: could not decode the png image")
    });
    assert!(!has(&harness, "%"), "nothing was classified");
}

#[test]
fn zero_shot_scores_the_typed_labels() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "clip", &["tokenizer.json"]);
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/chelsea.png");
    drop_file(&mut harness, &photo);
    // CLIP's softmax over the default labels (reference logits): dog 35.7%, cat 33.2%, car 31.1%.
    wait_for(&mut harness, "the scores", |h| has(h, "35.7%"));
    let labels = "Candidate labels (comma-separated):";
    harness.get_by_label(labels).focus();
    harness.step();
    harness.get_by_label(labels).type_text(", tree");
    harness.step();
    harness.get_by_label("Classify").click();
    // With "tree" added: dog 26.5%, tree 25.7%, cat 24.7%, car 23.1%.
    wait_for(&mut harness, "the new scores", |h| {
        has(h, "26.5%") && has(h, "25.7%")
    });
}

#[test]
fn a_captioner_writes_the_caption_beside_the_image() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "blip", &["tokenizer.json"]);
    assert!(
        has(&harness, "Loaded BLIP captioner"),
        "image-to-text is the default task"
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(fixtures.join("tiny/blip/reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    drop_file(&mut harness, &fixtures.join("images/chelsea.png"));
    // PyTorch's 8 greedy tokens; the tab generates more, which continue the same text.
    let caption = reference["caption"].as_str().unwrap();
    wait_for(&mut harness, "the finished caption", |h| {
        has(h, caption) && has(h, "tok/s")
    });
    assert!(
        has(&harness, "chelsea.png · 451 × 300"),
        "the image is shown"
    );
    let prompt = "Caption starts with (optional):";
    harness.get_by_label(prompt).focus();
    harness.step();
    harness
        .get_by_label(prompt)
        .type_text(reference["prompt"].as_str().unwrap());
    harness.step();
    harness.get_by_label("Caption").click();
    let prompted = reference["prompted_caption"].as_str().unwrap();
    wait_for(&mut harness, "the prompted caption", |h| has(h, prompted));
}

#[test]
fn object_detection_lists_the_boxes_above_the_threshold() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "yolos", &[]);
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/yolos/reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/chelsea.png");
    drop_file(&mut harness, &photo);
    // The default threshold, 0.9 as transformers': the reference's boxes that sure.
    let expected = reference["photos"]["chelsea.png"]["detections"]
        .as_array()
        .unwrap();
    let sure = expected
        .iter()
        .filter(|d| d["score"].as_f64().unwrap() > 0.9)
        .count();
    wait_for(&mut harness, "the detections", |h| {
        has(h, "objects above 0.90")
    });
    let heading = format!("{sure} objects above 0.90");
    assert!(
        has(&harness, &heading),
        "{heading}: {:?}",
        ui::labels(&harness)
    );
    // At the reference's threshold the list holds the pipeline's boxes, each with its label.
    let expected = reference["photos"]["chelsea.png"]["detections"]
        .as_array()
        .unwrap();
    let threshold = reference["threshold"].as_f64().unwrap();
    harness
        .get_by_role(egui::accesskit::Role::Slider)
        .set_value_accesskit(threshold);
    harness.run();
    let heading = format!("{} objects above {threshold:.2}", expected.len());
    assert!(
        has(&harness, &heading),
        "{heading}: {:?}",
        ui::labels(&harness)
    );
    for detection in expected {
        let score = detection["score"].as_f64().unwrap() * 100.0;
        let row = format!("{score:>5.1}%  {}", detection["label"].as_str().unwrap());
        assert!(has(&harness, &row), "{row}");
    }
}
