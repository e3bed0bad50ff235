//! Text-to-speech parity with transformers on two tiny random VITS voices
//! (`scripts/reference/make_tiny_vits.py`: MMS-TTS's layout with the stochastic duration
//! predictor, and one with the plain predictor): VitsTokenizer's ids (normalisation, blanks) and
//! the waveform with both noise scales 0 at speaking rates 1 and 1.5 within 1e-4 of
//! `VitsModel`. Then `hubble run --task text-to-speech` writes a WAV of the same samples, the
//! same seed repeats the same sound with noise on, and bad input gets clear errors.
//!
//! SpeechT5 (`scripts/reference/make_tiny_speecht5.py`): SpeechT5Tokenizer's ids from a
//! SentencePiece char model, `generate_speech`'s stop step (by probability and by the length
//! cap), its spectrogram and the HiFi-GAN vocoder's waveform within 1e-4; `hubble run` finds
//! the vocoder in the cache, reads a `.npy` speaker embedding, and says what to download when
//! the vocoder is missing.

use crate::support::parity;

use crate::support::cli;

use crate::support::cache;

use std::path::{Path, PathBuf};

use cli::{fixture, hubble};
use hubble::infer::models::speecht5::StopRule;
use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::common::noise::SeededNoise;
use hubble::infer::tasks::text_to_speech::{Speaker, SpeechRequest, TEXT_TO_SPEECH, VOCODER_REPO};
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
        speaker: None,
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

fn speecht5_reference() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(voice_dir("speecht5").join("reference.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn speecht5_spectrogram_and_vocoder_match_transformers() {
    let dir = voice_dir("speecht5");
    let facts = ModelFacts::from_dir(&dir).unwrap();
    assert_eq!(default_task(&facts), Some(TEXT_TO_SPEECH));
    assert!(plan(&facts, Some(TEXT_TO_SPEECH)).is_ok());
    let speaker = Speaker::load_speecht5(
        &dir,
        &voice_dir("speecht5-hifigan"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let voice = speaker.speecht5().unwrap();
    let reference = speecht5_reference();
    let embedding: Vec<f32> =
        serde_json::from_value(reference["speaker_embedding"].clone()).unwrap();
    let ctx = RunContext::default();
    for entry in reference["texts"].as_array().unwrap() {
        let text = entry["text"].as_str().unwrap();
        let ids: Vec<u32> = serde_json::from_value(entry["ids"].clone()).unwrap();
        assert_eq!(voice.token_ids(text).unwrap(), ids, "{text:?}");
        let stop = StopRule {
            max_ratio: entry["maxlenratio"].as_f64().unwrap(),
            ..StopRule::default()
        };
        let spectrogram = voice.spectrogram(text, &embedding, &stop, 0, &ctx).unwrap();
        let expected: Vec<Vec<f32>> = serde_json::from_value(entry["spectrogram"].clone()).unwrap();
        let got: Vec<Vec<f32>> = spectrogram.to_vec2().unwrap();
        assert_eq!(got.len(), expected.len(), "{text:?}: frames");
        let diff = max_diff(&got.concat(), &expected.concat());
        assert!(diff <= 1e-4, "{text:?}: spectrogram off by {diff}");
        let waveform = voice.vocode(&spectrogram).unwrap();
        let expected: Vec<f32> = serde_json::from_value(entry["waveform"].clone()).unwrap();
        assert_eq!(waveform.len(), expected.len());
        let wave_diff = max_diff(&waveform, &expected);
        assert!(wave_diff <= 1e-4, "{text:?}: waveform off by {wave_diff}");
        println!(
            "{text:?} (max ratio {}): {} frames within {diff:.2e}, {} samples within {wave_diff:.2e}",
            stop.max_ratio,
            got.len(),
            waveform.len()
        );
    }
}

/// A float32 `.npy` file of `values`, as numpy writes a 1-D array.
fn write_npy(path: &Path, values: &[f32]) {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        values.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn hubble_run_speaks_with_speecht5_through_the_cached_vocoder() {
    let home = tempfile::tempdir().unwrap();
    let hub = home.path().join("hub");
    let model = cache::install(&hub, "org/tiny-speecht5", &voice_dir("speecht5"));
    let model = model.display().to_string();
    let out = home.path().join("hello.wav");
    let out_arg = out.display().to_string();
    let args = |speaker: &str| {
        let mut args = vec![
            "run",
            "--model-dir",
            &model,
            "--input",
            "Hello world.",
            "--output",
            &out_arg,
            "--json",
        ];
        if !speaker.is_empty() {
            args.extend(["--speaker", speaker]);
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hubble(home.path(), &args, &[])
    };

    let missing = run(&args(""));
    assert_ne!(missing.status, Some(0));
    assert!(
        missing
            .stderr
            .contains(&format!("hubble download {VOCODER_REPO}")),
        "{}",
        missing.stderr
    );

    cache::install(&hub, VOCODER_REPO, &voice_dir("speecht5-hifigan"));
    let reference = speecht5_reference();
    let embedding: Vec<f32> =
        serde_json::from_value(reference["speaker_embedding"].clone()).unwrap();
    let speaker_file = home.path().join("speaker.npy");
    write_npy(&speaker_file, &embedding);
    let spoken = run(&args(&speaker_file.display().to_string())).ok();
    let json = spoken.json();
    assert_eq!(json["task"], "text-to-speech");
    assert_eq!(json["speaker"], speaker_file.display().to_string());
    assert!(json.get("noise_scale").is_none(), "{json}");
    let expected: Vec<f32> =
        serde_json::from_value(reference["texts"][0]["waveform"].clone()).unwrap();
    let clip = hubble::media::audio::load_16k_mono(&out).unwrap();
    assert_eq!(clip.samples.len(), expected.len());
    let diff = max_diff(&clip.samples, &expected);
    assert!(diff < 1.0 / 16_000.0, "{diff}");

    let neutral = run(&args("")).ok();
    assert_eq!(neutral.json()["speaker"], "neutral");

    let short = home.path().join("short.npy");
    write_npy(&short, &[0.5; 3]);
    let wrong = run(&args(&short.display().to_string()));
    assert_ne!(wrong.status, Some(0), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("holds 3 values"), "{}", wrong.stderr);
    let mut rate = args("");
    rate.extend(["--speaking-rate".into(), "1.5".into()]);
    let refused = run(&rate);
    assert!(
        refused.stderr.contains("no speaking rate"),
        "{}",
        refused.stderr
    );
}

#[test]
fn speecht5_dropout_is_drawn_from_the_seed() {
    // SpeechT5 keeps its prenet dropout (0.5) on while speaking: the seed decides it.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(voice_dir("speecht5")).unwrap().flatten() {
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let config_path = dir.path().join("config.json");
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["speech_decoder_prenet_dropout"] = 0.5.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let speaker = Speaker::load_speecht5(
        dir.path(),
        &voice_dir("speecht5-hifigan"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let ctx = RunContext::default();
    let speak = |seed: u64| {
        let request = SpeechRequest {
            text: "Hello world.".into(),
            seed,
            ..SpeechRequest::default()
        };
        speaker.speak(&request, &ctx).unwrap().samples
    };
    let (first, again, other) = (speak(1), speak(1), speak(2));
    assert_eq!(first, again);
    assert_ne!(first, other);
}
