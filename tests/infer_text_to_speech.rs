//! Text-to-speech parity with transformers on two tiny random VITS voices
//! (`scripts/reference/make_tiny_vits.py`: MMS-TTS's layout with the stochastic duration
//! predictor, and one with the plain predictor): VitsTokenizer's ids (normalisation, blanks) and
//! the waveform with both noise scales 0 at speaking rates 1 and 1.5 within 1e-4 of
//! `VitsModel`. Then `hubble run --task text-to-speech` writes a WAV of the same samples, the
//! same seed repeats the same sound with noise on, and bad input gets clear errors.

#[path = "support/parity.rs"]
mod parity;

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

use cli::{fixture, hubble};
use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::common::noise::SeededNoise;
use hubble::infer::tasks::text_to_speech::{Speaker, SpeechRequest, TEXT_TO_SPEECH};
use hubble::infer::{ModelFacts, RunContext};
use parity::max_diff;
use serde_json::Value;

fn voice_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn check_voice(name: &str) {
    let dir = voice_dir(name);
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let facts = ModelFacts::from_dir(&dir).unwrap();
    assert_eq!(default_task(&facts), Some(TEXT_TO_SPEECH));
    assert!(plan(&facts, Some(TEXT_TO_SPEECH)).is_ok());
    let speaker = Speaker::load_dir(&dir, &candle_core::Device::Cpu).unwrap();
    for entry in reference["texts"].as_array().unwrap() {
        let text = entry["text"].as_str().unwrap();
        let ids: Vec<u32> = serde_json::from_value(entry["ids"].clone()).unwrap();
        assert_eq!(speaker.token_ids(text).unwrap(), ids, "{name}: {text:?}");
        for (rate, expected) in entry["waveforms"].as_object().unwrap() {
            let expected: Vec<f32> = serde_json::from_value(expected.clone()).unwrap();
            let request = SpeechRequest {
                text: text.into(),
                speaking_rate: Some(rate.parse().unwrap()),
                noise_scale: Some(0.0),
                noise_scale_duration: Some(0.0),
                ..SpeechRequest::default()
            };
            let voice = speaker.voice(&request).unwrap();
            let samples = speaker
                .waveform(text, &voice, &mut SeededNoise::new(0))
                .unwrap();
            assert_eq!(
                samples.len(),
                expected.len(),
                "{name} {text:?} at {rate}: length"
            );
            let diff = max_diff(&samples, &expected);
            assert!(diff <= 1e-4, "{name} {text:?} at {rate}: off by {diff}");
            println!(
                "{name} {text:?} at rate {rate}: {} samples within {diff:.2e}",
                samples.len()
            );
        }
    }
}

#[test]
fn stochastic_duration_voice_matches_transformers() {
    check_voice("vits");
}

#[test]
fn plain_duration_voice_matches_transformers() {
    check_voice("vits-plain");
}

#[test]
fn settings_are_checked_and_the_seed_repeats_the_noise() {
    let speaker = Speaker::load_dir(&voice_dir("vits"), &candle_core::Device::Cpu).unwrap();
    let ctx = RunContext::default();
    let request = |rate: f64, seed: u64| SpeechRequest {
        text: "a quick brown fox".into(),
        speaking_rate: Some(rate),
        noise_scale: Some(0.667),
        noise_scale_duration: Some(0.8),
        seed,
        output: None,
    };
    let first = speaker.speak(&request(1.0, 3), &ctx).unwrap();
    let again = speaker.speak(&request(1.0, 3), &ctx).unwrap();
    let other = speaker.speak(&request(1.0, 4), &ctx).unwrap();
    assert_eq!(first.samples, again.samples);
    assert_ne!(first.samples, other.samples);
    assert_eq!(first.sampling_rate, 16_000);
    assert!(first.real_time_factor > 0.0);
    let error = speaker
        .speak(&request(0.0, 3), &ctx)
        .unwrap_err()
        .to_string();
    assert!(error.contains("speaking rate"), "{error}");
    let silent = SpeechRequest {
        text: "!!! 123".into(),
        ..request(1.0, 3)
    };
    let error = speaker.speak(&silent, &ctx).unwrap_err().to_string();
    assert!(error.contains("nothing to say"), "{error}");
}

#[test]
fn hubble_run_writes_the_speech_as_a_wav() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("hello.wav");
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/vits"),
            "--input",
            "Hello, World!",
            "--noise-scale",
            "0",
            "--noise-scale-duration",
            "0",
            "--output",
            &out.display().to_string(),
            "--json",
        ],
        &[],
    )
    .ok();
    let json = run.json();
    assert_eq!(json["task"], "text-to-speech");
    assert_eq!(json["sampling_rate"], 16_000);
    let clip = hubble::media::audio::load_16k_mono(&out).unwrap();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(voice_dir("vits").join("reference.json")).unwrap(),
    )
    .unwrap();
    let expected: Vec<f32> =
        serde_json::from_value(reference["texts"][0]["waveforms"]["1.0"].clone()).unwrap();
    assert_eq!(clip.samples.len(), expected.len());
    // 16-bit samples: within one step of the float waveform.
    let diff = max_diff(&clip.samples, &expected);
    assert!(diff < 1.0 / 16_000.0, "{diff}");
    let seconds = json["audio_seconds"].as_f64().unwrap();
    assert!((seconds - expected.len() as f64 / 16_000.0).abs() < 1e-9);

    let missing = hubble(
        home.path(),
        &["run", "--model-dir", &fixture("tiny/vits"), "--input", "hi"],
        &[],
    );
    assert_eq!(missing.status, Some(2), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("--output FILE.wav"),
        "{}",
        missing.stderr
    );
}
