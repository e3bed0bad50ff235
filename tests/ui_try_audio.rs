//! The Try tab's speech view driven through its AccessKit tree (egui_kittest, no GPU: the
//! waveform and spectrogram take the CPU path): the tiny Whisper fixture is loaded, an audio
//! file opened by path and transcribed, and the segments and real-time factor appear.

#[path = "support/ui.rs"]
mod ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use ui::{config, harness, has_label_containing as has, wait_up_to};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

#[test]
fn an_audio_file_is_transcribed_with_timestamps() {
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("hub/models--acme--tiny-whisper");
    let snapshot = folder.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for file in [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
    ] {
        std::fs::copy(
            fixtures.join("tiny/whisper").join(file),
            snapshot.join(file),
        )
        .unwrap();
    }
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();

    let mut harness = harness(config("http://127.0.0.1:9", home.path(), true));
    let wait = Duration::from_secs(120);
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("acme/tiny-whisper");
    wait_up_to(&mut harness, wait, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
    wait_up_to(&mut harness, wait, "the Load button", |h| {
        has(h, "Load model")
    });
    harness.get_by_label("Load model").click();
    wait_up_to(&mut harness, wait, "the loaded model", |h| {
        has(h, "Loaded whisper")
    });
    assert!(has(&harness, "Record"), "the microphone controls show");

    let wav = fixtures.join("audio/speech.wav").display().to_string();
    harness.get_by_label("Audio file").focus();
    harness.step();
    harness.get_by_label("Audio file").type_text(&wav);
    harness.step();
    harness.get_by_label("Open").click();
    wait_up_to(&mut harness, wait, "the decoded file", |h| {
        has(h, "speech.wav · 0:04")
    });
    harness.get_by_label("Timestamps").click();
    harness.step();
    harness.get_by_label("Transcribe").click();
    wait_up_to(&mut harness, wait, "the transcript", |h| {
        has(h, "real-time factor")
    });
    assert!(
        has(&harness, "language en"),
        "the detected language is shown"
    );
    assert!(has(&harness, "Save .srt") && has(&harness, "Copy"));
}
