//! Whisper parity with PyTorch transformers (`scripts/reference/make_tiny_whisper.py`): the
//! log-mel front end against WhisperFeatureExtractor on real espeak-ng speech (80 and 128 bins),
//! and a tiny random checkpoint's encoder output, prompt logits and greedy tokens; then the
//! pipeline and `hubble run --task automatic-speech-recognition` end to end.

use crate::support::parity;

use crate::support::cli;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use hubble::infer::models::whisper_mel::{LogMel, N_FRAMES};
use hubble::infer::tasks::speech_recognition::{SpeechRecognizer, SpeechRequest, SpeechTask};
use hubble::infer::{CancelToken, Event, Pipeline, RunContext};
use hubble::media::audio::load_16k_mono;
use parity::max_diff;

const TOLERANCE: f32 = 1e-4;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn tensors(path: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(path), &Device::Cpu).unwrap()
}

fn speech() -> Vec<f32> {
    load_16k_mono(&fixture("audio/speech.wav")).unwrap().samples
}

#[test]
fn log_mel_matches_whisper_feature_extractor_on_real_speech() {
    let audio = speech();
    let reference = tensors("audio/speech_mel.safetensors");
    for n_mels in [80usize, 128] {
        let ours = LogMel::new(n_mels).compute(&audio);
        let expected = &reference[&format!("mel{n_mels}")];
        let (bins, frames) = expected.dims2().unwrap();
        assert_eq!(bins, n_mels);
        let expected = expected.to_vec2::<f32>().unwrap();
        let mut worst = 0.0f32;
        for (m, row) in expected.iter().enumerate() {
            let ours = &ours[m * N_FRAMES..m * N_FRAMES + frames];
            worst = worst.max(max_diff(ours, row));
        }
        let last = reference[&format!("mel{n_mels}_last")]
            .to_vec1::<f32>()
            .unwrap();
        let ours_last: Vec<f32> = (0..n_mels)
            .map(|m| ours[m * N_FRAMES + N_FRAMES - 1])
            .collect();
        worst = worst.max(max_diff(&ours_last, &last));
        eprintln!(
            "log-mel {n_mels} bins: max |Δ| = {worst:.2e} over {frames} speech frames + the last"
        );
        assert!(worst <= TOLERANCE, "{n_mels} bins: max diff {worst}");
    }
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("tiny/whisper/reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn tiny_whisper_matches_pytorch() {
    let reference_json = reference();
    let reference = tensors("tiny/whisper/reference.safetensors");
    let mut asr = SpeechRecognizer::load_dir(&fixture("tiny/whisper"), &Device::Cpu, None).unwrap();
    let features = asr.features(&speech()).unwrap();
    let model = asr.model_mut().unwrap();
    let encoded = model.encode(&features).unwrap().squeeze(0).unwrap();
    let expected = reference["encoder_output"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let diff = max_diff(
        &encoded.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        &expected,
    );
    eprintln!("encoder output: max |Δ| = {diff:.2e}");
    assert!(diff <= TOLERANCE, "encoder output differs by {diff}");

    let prompt = ids(&reference_json["prompt"]);
    let logits = model.decode(&prompt).unwrap();
    let expected = reference["prompt_logits"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let diff = max_diff(
        &logits.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        &expected,
    );
    eprintln!("prompt logits: max |Δ| = {diff:.2e}");
    assert!(diff <= TOLERANCE, "prompt logits differ by {diff}");

    // Greedy decoding with the KV cache, one token at a time, against PyTorch's full recompute.
    model.restart();
    let mut logits = model.decode(&prompt).unwrap();
    let mut tokens = Vec::new();
    let wanted = ids(&reference_json["greedy_tokens"]);
    while tokens.len() < wanted.len() {
        let last = logits.get(logits.dim(0).unwrap() - 1).unwrap();
        let next = last.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        tokens.push(next);
        logits = model.decode(&[next]).unwrap();
    }
    assert_eq!(tokens, wanted);
}

#[test]
fn the_pipeline_detects_the_language_and_streams_segments() {
    let mut asr = SpeechRecognizer::load_dir(&fixture("tiny/whisper"), &Device::Cpu, None).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = RunContext::new(CancelToken::new(), Some(tx));
    let mut samples = speech();
    // 35 s: two windows.
    samples.resize(35 * 16_000, 0.0);
    let transcript = asr
        .run(
            SpeechRequest {
                samples,
                language: None,
                task: SpeechTask::Transcribe,
                timestamps: true,
            },
            &ctx,
        )
        .unwrap();
    let detected = reference()["detected_language"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(transcript.language, Some(detected));
    assert!((transcript.audio_seconds - 35.0).abs() < 1e-9);
    let streamed: Vec<_> = rx
        .try_iter()
        .filter_map(|e| match e {
            Event::Segment(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, transcript.segments);
    assert!(
        transcript
            .segments
            .iter()
            .all(|s| s.end >= s.start && s.end <= 35.0)
    );

    let err = asr
        .run(
            SpeechRequest {
                samples: vec![0.0; 16_000],
                language: Some("xx".into()),
                ..SpeechRequest::default()
            },
            &ctx,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown language \"xx\"") && err.contains("en, de, fr, es"),
        "{err}"
    );
}

#[test]
fn hubble_run_transcribes_a_file_and_rejects_a_broken_one() {
    let home = tempfile::tempdir().unwrap();
    let dir = fixture("tiny/whisper").display().to_string();
    let wav = fixture("audio/speech.wav").display().to_string();
    let run = cli::hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &dir,
            "--task",
            "asr",
            "--input-file",
            &wav,
            "--language",
            "de",
            "--json",
        ],
        &[],
    )
    .ok();
    let json = run.json();
    assert_eq!(json["task"], "automatic-speech-recognition");
    assert_eq!(json["language"], "de");
    assert!(json["segments"].is_array() && json["real_time_factor"].as_f64().unwrap() > 0.0);

    let broken = home.path().join("broken.mp3");
    std::fs::write(&broken, b"ID3\x04\0\0\0\0\0\x10garbage").unwrap();
    let run = cli::hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &dir,
            "--input-file",
            &broken.display().to_string(),
        ],
        &[],
    );
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("broken.mp3"), "{}", run.stderr);
}
