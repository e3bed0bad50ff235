//! The Try tab's speech view driven through its AccessKit tree (egui_kittest, no GPU: the
//! waveform and spectrogram take the CPU path): the tiny Whisper fixture is loaded, an audio
//! file opened by path and transcribed, the segments and real-time factor appear, and a click on
//! a segment plays it; a dropped file of the wrong type is refused, a dropped WAV is opened.

use crate::support::ui;

use std::path::{Path, PathBuf};
use std::time::Duration;

use eframe::egui::accesskit::Toggled;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ui::{App, config, drop_file, harness, has_label_containing as has, wait_up_to};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";
const WAIT: Duration = Duration::from_secs(120);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Caches the tiny Whisper fixture as `acme/tiny-whisper` and opens its Try tab with the model
/// loaded.
fn loaded(home: &Path) -> Harness<'static, App> {
    let folder = home.join("hub/models--acme--tiny-whisper");
    let snapshot = folder.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(&snapshot).unwrap();
    for file in [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
    ] {
        std::fs::copy(
            fixtures().join("tiny/whisper").join(file),
            snapshot.join(file),
        )
        .unwrap();
    }
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();

    let mut harness = harness(config("http://127.0.0.1:9", home, true));
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("acme/tiny-whisper");
    wait_up_to(&mut harness, WAIT, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
    wait_up_to(&mut harness, WAIT, "the Load button", |h| {
        has(h, "Load model")
    });
    harness.get_by_label("Load model").click();
    wait_up_to(&mut harness, WAIT, "the loaded model", |h| {
        has(h, "Loaded whisper")
    });
    harness
}

#[test]
fn an_audio_file_is_transcribed_with_timestamps() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path());
    assert!(has(&harness, "Record"), "the microphone controls show");
    assert!(has(&harness, "Open…"), "the file dialog button shows");

    let wav = fixtures().join("audio/speech.wav").display().to_string();
    harness.get_by_label("Audio file").focus();
    harness.step();
    harness.get_by_label("Audio file").type_text(&wav);
    harness.step();
    harness.get_by_label("Open").click();
    wait_up_to(&mut harness, WAIT, "the decoded file", |h| {
        has(h, "speech.wav · 0:04")
    });
    harness.get_by_label("Timestamps").click();
    harness.step();
    harness.get_by_label("Transcribe").click();
    wait_up_to(&mut harness, WAIT, "the transcript", |h| {
        has(h, "real-time factor")
    });
    assert!(
        has(&harness, "language en"),
        "the detected language is shown"
    );
    assert!(has(&harness, "Save .srt") && has(&harness, "Copy"));

    // Each segment is a button saying what it plays.
    let segments: Vec<String> = harness
        .query_all_by_label_contains("Play segment ")
        .filter_map(|node| node.accesskit_node().label())
        .collect();
    eprintln!("segments: {segments:?}");
    assert!(!segments.is_empty(), "no playable segment");

    // Played on ALSA's null device (built into libasound: it takes the samples as fast as they
    // come and discards them), so the test needs no sound card; the PulseAudio test
    // (tests/playback_pulse.rs) checks what is heard.
    harness.get_by_label("Speaker").click();
    wait_up_to(&mut harness, WAIT, "the output devices", |h| {
        h.query_all_by_label_contains("Discard all samples")
            .next()
            .is_some()
    });
    harness.get_by_label_contains("Discard all samples").click();
    harness.step();
    let speaker = harness.get_by_label("Speaker").accesskit_node().value();
    assert!(
        speaker
            .as_deref()
            .is_some_and(|v| v.starts_with("Discard all samples")),
        "{speaker:?}"
    );
    let first = segments[0].clone();
    let toggled = |h: &Harness<App>, label: &str| {
        h.get_by_label(label).accesskit_node().toggled() == Some(Toggled::True)
    };
    assert!(!toggled(&harness, &first));
    harness.get_by_label(&first).click();
    wait_up_to(&mut harness, WAIT, "the segment playing", |h| {
        has(h, "Stop playback") && toggled(h, &first)
    });
    assert!(!has(&harness, "cannot"), "no playback error");
    harness.get_by_label("⏹ Stop playback").click();
    wait_up_to(&mut harness, WAIT, "the playback stopped", |h| {
        !has(h, "Stop playback") && !toggled(h, &first)
    });
    // Played to its end, the segment goes back to normal by itself.
    harness.get_by_label(&first).click();
    wait_up_to(&mut harness, WAIT, "the segment playing again", |h| {
        has(h, "Stop playback") && toggled(h, &first)
    });
    let started = std::time::Instant::now();
    wait_up_to(&mut harness, WAIT, "the segment's end", |h| {
        !has(h, "Stop playback") && !toggled(h, &first)
    });
    eprintln!(
        "{first} played out in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(!has(&harness, "cannot"), "no playback error");
}

#[test]
fn a_dropped_file_that_is_no_audio_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = loaded(home.path());
    let notes = home.path().join("notes.txt");
    std::fs::write(&notes, "not audio").unwrap();
    drop_file(&mut harness, &notes);
    wait_up_to(&mut harness, WAIT, "the refusal", |h| {
        has(h, "notes.txt is not an audio file: use .wav, .flac, .mp3")
    });
    assert!(!has(&harness, "notes.txt ·"), "nothing was opened");
    // A WAV dropped next is opened, and the refusal goes away.
    drop_file(&mut harness, &fixtures().join("audio/speech.wav"));
    wait_up_to(&mut harness, WAIT, "the dropped file", |h| {
        has(h, "speech.wav · 0:04")
    });
    assert!(!has(&harness, "is not an audio file"));
}
