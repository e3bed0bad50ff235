//! Text-to-audio parity with transformers on a tiny random MusicGen
//! (`scripts/reference/make_tiny_musicgen.py`: T5 encoder, 4-codebook decoder, EnCodec in
//! musicgen's 32 kHz shape): the prompt's ids, the first step's guided logits within 1e-4,
//! greedy generation with guidance 3 for 8 steps giving the same delayed codes, the same codes
//! for EnCodec and its waveform within 1e-4. Then `hubble run --task text-to-audio` writes that
//! waveform as a WAV, the seed repeats sampled codes, and bad input gets clear errors.

use crate::support::parity;

use crate::support::cli;

use std::path::PathBuf;

use cli::{fixture, hubble};
use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::text_to_audio::{Composer, MusicRequest, TEXT_TO_AUDIO};
use hubble::infer::{ModelFacts, RunContext};
use parity::max_diff;
use serde_json::Value;

fn model_dir() -> PathBuf {
    PathBuf::from(fixture("tiny/musicgen"))
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(model_dir().join("reference.json")).unwrap())
        .unwrap()
}

fn rows(value: &Value) -> Vec<Vec<u32>> {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn musicgen_matches_transformers_step_by_step() {
    let facts = ModelFacts::from_dir(&model_dir()).unwrap();
    assert_eq!(default_task(&facts), Some(TEXT_TO_AUDIO));
    assert!(plan(&facts, Some(TEXT_TO_AUDIO)).is_ok());
    let mut composer = Composer::load_dir(&model_dir(), &candle_core::Device::Cpu).unwrap();
    let reference = reference();
    let guidance = reference["guidance_scale"].as_f64().unwrap();
    let steps = reference["steps"].as_u64().unwrap() as usize;
    let ctx = RunContext::default();
    for entry in reference["prompts"].as_array().unwrap() {
        let prompt = entry["prompt"].as_str().unwrap();
        let ids: Vec<u32> = serde_json::from_value(entry["ids"].clone()).unwrap();
        assert_eq!(composer.token_ids(prompt).unwrap(), ids, "{prompt:?}");
        let text: Vec<Vec<f32>> = serde_json::from_value(entry["logits"].clone()).unwrap();
        let null: Vec<Vec<f32>> = serde_json::from_value(entry["null_logits"].clone()).unwrap();
        let request = MusicRequest {
            text: prompt.into(),
            guidance_scale: guidance,
            temperature: 0.0,
            ..MusicRequest::default()
        };
        let mut first = Vec::new();
        let delayed = composer
            .codes(prompt, steps, &request, &ctx, &mut |codebook, logits| {
                if first.len() == codebook && first.len() < text.len() {
                    first.push(logits.to_vec1::<f32>().unwrap());
                }
            })
            .unwrap();
        let mut worst: f32 = 0.0;
        for (k, got) in first.iter().enumerate() {
            let expected: Vec<f32> = null[k]
                .iter()
                .zip(&text[k])
                .map(|(n, t)| n + guidance as f32 * (t - n))
                .collect();
            worst = worst.max(max_diff(got, &expected));
        }
        assert_eq!(first.len(), 4);
        assert!(
            worst <= 1e-4,
            "{prompt:?}: first-step logits off by {worst}"
        );
        assert_eq!(
            delayed,
            rows(&entry["delayed_codes"]),
            "{prompt:?}: delayed codes"
        );
        let codes = composer.model().undelay(&delayed);
        assert_eq!(codes, rows(&entry["codes"]), "{prompt:?}: codes");
        let waveform = composer.model().decode(&codes).unwrap();
        let expected: Vec<f32> = serde_json::from_value(entry["waveform"].clone()).unwrap();
        assert_eq!(waveform.len(), expected.len());
        let wave = max_diff(&waveform, &expected);
        assert!(wave <= 1e-4, "{prompt:?}: waveform off by {wave}");
        println!(
            "{prompt:?}: logits within {worst:.2e}, {steps} greedy steps equal, {} samples within {wave:.2e}",
            waveform.len()
        );
    }
}

#[test]
fn the_seed_repeats_sampled_codes_and_settings_are_checked() {
    let mut composer = Composer::load_dir(&model_dir(), &candle_core::Device::Cpu).unwrap();
    let ctx = RunContext::default();
    let request = |seed: u64| MusicRequest {
        text: "calm piano".into(),
        seconds: 0.1,
        // The tiny model's logits are sharp: a hotter temperature lets the seed matter.
        temperature: 3.0,
        seed,
        ..MusicRequest::default()
    };
    // The tiny EnCodec's sound barely moves with its codes: the seed is checked on them.
    let codes = |composer: &mut Composer, seed: u64| {
        composer
            .codes("calm piano", 12, &request(seed), &ctx, &mut |_, _| {})
            .unwrap()
    };
    let (first_codes, again, other) = (
        codes(&mut composer, 3),
        codes(&mut composer, 3),
        codes(&mut composer, 4),
    );
    assert_eq!(first_codes, again);
    assert_ne!(first_codes, other);
    let first = composer.compose(&request(3), &ctx).unwrap();
    // 0.1 s at 400 code frames per second: 40 frames of 4 samples.
    assert_eq!(
        (first.frames, first.samples.len(), first.sampling_rate),
        (40, 160, 1600)
    );
    let long = MusicRequest {
        seconds: 600.0,
        ..request(3)
    };
    let error = composer.compose(&long, &ctx).unwrap_err().to_string();
    assert!(error.contains("duration"), "{error}");
    let empty = MusicRequest {
        text: "  ".into(),
        ..request(3)
    };
    let error = composer.compose(&empty, &ctx).unwrap_err().to_string();
    assert!(error.contains("describe the music"), "{error}");
}

#[test]
fn hubble_run_writes_the_music_as_a_wav() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("music.wav");
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/musicgen"),
            "--input",
            "calm piano",
            "--duration",
            "0.05",
            "--temperature",
            "0",
            "--output",
            &out.display().to_string(),
            "--json",
        ],
        &[],
    )
    .ok();
    let json = run.json();
    assert_eq!(json["task"], "text-to-audio");
    assert_eq!(json["sampling_rate"], 1600);
    assert_eq!(json["frames"], 20);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    // 20 frames × 4 samples of 16-bit mono after the 44-byte header.
    assert_eq!(bytes.len(), 44 + 20 * 4 * 2);

    let missing = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/musicgen"),
            "--input",
            "hi",
        ],
        &[],
    );
    assert_eq!(missing.status, Some(2), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("--output FILE.wav"),
        "{}",
        missing.stderr
    );
}
