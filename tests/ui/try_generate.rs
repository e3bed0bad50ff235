//! The Try tab's generating views driven through their AccessKit trees (egui_kittest, no GPU):
//! text-to-image (the tiny SD 1.x pipeline cached from the fixtures: a prompt typed, Generate
//! pressed, the picture with its settings and Save PNG…; an emptied prompt disables Generate)
//! and text-to-speech (the tiny VITS voice: Speak, then the waveform's length, Play and
//! Save WAV…; the tiny SpeechT5 voice with its vocoder cached beside it: a speaker-embedding
//! row instead of VITS's sliders, and Speak) and text-to-audio (the tiny MusicGen: Compose,
//! then its length and Play).

use crate::support::ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ui::{App, config, harness, has_label_containing as has, wait_up_to};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const WAIT: Duration = Duration::from_secs(60);

/// Caches fixture `fixture` as `repo` in `home`'s hub cache.
fn cache_fixture(home: &Path, fixture: &str, repo: &str) {
    let folder = home.join(format!("hub/models--{}", repo.replace('/', "--")));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(fixture);
    copy_tree(&source, &folder.join("snapshots").join(COMMIT));
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();
}

/// Caches fixture `fixture` as `acme/<fixture>`, opens its Try tab, loads the model and waits
/// for `ready`.
fn loaded(home: &Path, fixture: &str, ready: &str) -> Harness<'static, App> {
    cache_fixture(home, fixture, &format!("acme/{fixture}"));
    let mut harness = harness(config("http://127.0.0.1:9", home, true));
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model(&format!("acme/{fixture}"));
    wait_up_to(&mut harness, WAIT, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
    wait_up_to(&mut harness, WAIT, "the Load button", |h| {
        has(h, "Load model")
    });
    harness.get_by_label("Load model").click();
    wait_up_to(&mut harness, WAIT, ready, |h| has(h, ready));
    harness
}

#[test]
fn a_prompt_becomes_a_picture_with_its_settings() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "sd1", "Generate");
    let wait = WAIT;
    let prompt = harness.get_by_label("Prompt:");
    prompt.focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_label("Prompt:")
        .type_text("a red cat on the moon");
    harness.run();
    harness.get_by_label("Generate").click();
    wait_up_to(&mut harness, wait, "the picture", |h| has(h, "Save PNG"));
    assert!(
        has(&harness, "16 × 16 px"),
        "the settings line names the size"
    );
    assert!(
        has(&harness, "euler"),
        "and the scheduler that ran (PNDM → Euler)"
    );
    assert!(has(&harness, "Generated image"), "the picture is shown");

    harness.get_by_label("Prompt:").focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.key_press(egui::Key::Backspace);
    harness.run();
    assert!(
        harness
            .get_by_label("Generate")
            .accesskit_node()
            .is_disabled(),
        "no prompt, nothing to generate"
    );
}

#[test]
fn text_becomes_speech_to_play_and_save() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "vits", "Speak");
    harness.get_by_label("Text to speak:").focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_label("Text to speak:")
        .type_text("a quick brown fox");
    harness.run();
    harness.get_by_label("Speak").click();
    wait_up_to(&mut harness, WAIT, "the speech", |h| has(h, "Save WAV"));
    assert!(
        has(&harness, "s of speech at 16000 Hz"),
        "the length and rate are shown"
    );
    assert!(has(&harness, "Play"), "the speech can be played");
}

#[test]
fn speecht5_speaks_with_a_speaker_row_instead_of_vits_sliders() {
    let home = tempfile::tempdir().unwrap();
    cache_fixture(
        home.path(),
        "speecht5-hifigan",
        "microsoft/speecht5_hifigan",
    );
    let mut harness = loaded(home.path(), "speecht5", "Speak");
    assert!(
        has(&harness, "Speaker embedding"),
        "SpeechT5's voice is chosen by embedding"
    );
    assert!(has(&harness, "none (neutral voice)"));
    assert!(!has(&harness, "Speaking rate"), "VITS's sliders are hidden");
    harness.get_by_label("Speak").click();
    wait_up_to(&mut harness, WAIT, "the speech", |h| has(h, "Save WAV"));
    assert!(has(&harness, "s of speech at 16000 Hz"));
}

#[test]
fn a_description_becomes_music_to_play_and_save() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path(), "musicgen", "Compose");
    assert!(has(&harness, "Guidance"), "MusicGen's settings are shown");
    harness.get_by_label("Compose").click();
    wait_up_to(&mut harness, WAIT, "the music", |h| has(h, "Save WAV"));
    assert!(
        has(&harness, "s of music at 1600 Hz"),
        "the length and rate are shown"
    );
    assert!(has(&harness, "Play"), "the music can be played");
}
