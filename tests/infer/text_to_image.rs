//! Text-to-image parity with diffusers on three tiny random Stable Diffusion pipelines
//! (`scripts/reference/make_tiny_sd.py`: SD 1.x's shape with epsilon prediction, SD 2.x's with
//! exact GELU, linear projections and v-prediction, SDXL's with two text encoders, the pooled
//! text and size ids, and zeros for the empty negative prompt). From the reference's fixed initial latents,
//! per scheduler: the CLIP tokenizer's ids, the timesteps, the UNet's raw output at step 1
//! within 1e-4, and the decoded float image within 1e-3 (ancestral and LCM steps get the noise
//! diffusers drew). Then `hubble run --task text-to-image` end to end: a PNG with its settings
//! in text chunks, the same picture for the same seed, and clear errors.

use crate::support::parity;

use crate::support::cli;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use cli::{fixture, hubble};
use hubble::infer::models::diffusion_scheduler::SchedulerKind;
use hubble::infer::models::stable_diffusion::StableDiffusion;
use hubble::infer::registry::{default_task, plan};
use hubble::infer::tasks::common::noise::NoiseSource;
use hubble::infer::tasks::text_to_image::{ImageGenerator, TEXT_TO_IMAGE, TextToImageRequest};
use hubble::infer::{InferError, ModelFacts, RunContext};
use parity::max_diff;
use serde_json::Value;

fn pipeline_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn reference(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    serde_json::from_value(v.clone()).unwrap()
}

/// The initial latents, then each step's noise, as diffusers drew them.
struct Recorded(std::collections::VecDeque<Vec<f32>>);

impl NoiseSource for Recorded {
    fn draw(&mut self, shape: &[usize], device: &Device) -> Result<Tensor, InferError> {
        let values = self.0.pop_front().expect("diffusers drew as much noise");
        Ok(Tensor::from_vec(values, shape, device)?)
    }
}

fn check_pipeline(name: &str) {
    let dir = pipeline_dir(name);
    let reference = reference(&dir);
    let facts = ModelFacts::from_dir(&dir).unwrap();
    assert_eq!(default_task(&facts).unwrap(), TEXT_TO_IMAGE, "{name}");
    assert!(facts.architecture_name().starts_with("StableDiffusion"));
    assert!(plan(&facts, Some(TEXT_TO_IMAGE)).is_ok());

    let sd = StableDiffusion::load(&dir, &Device::Cpu).unwrap();
    let per_tokenizer = reference["ids"].as_array().unwrap();
    for (tokenizer, texts) in per_tokenizer.iter().enumerate() {
        for (text, ids) in texts.as_object().unwrap() {
            let expected: Vec<u32> = serde_json::from_value(ids.clone()).unwrap();
            let ours = sd.token_ids(text).unwrap();
            assert_eq!(ours.len(), per_tokenizer.len(), "{name}: tokenizers");
            assert_eq!(
                ours[tokenizer], expected,
                "{name} tokenizer {tokenizer}: {text:?}"
            );
        }
    }
    assert_eq!(sd.default_side, 16);
    assert_eq!(sd.is_xl(), name == "sdxl");

    let generator = ImageGenerator::load_dir(&dir, &Device::Cpu).unwrap();
    let latents = floats(&reference["latents"]);
    let schedulers = reference["schedulers"].as_object().unwrap();
    for (class, expected) in schedulers {
        let kind = SchedulerKind::parse(class).unwrap();
        let request = TextToImageRequest {
            negative_prompt: reference["negative_prompt"].as_str().unwrap().into(),
            steps: expected["steps"].as_u64().unwrap() as usize,
            guidance: reference["guidance"].as_f64().unwrap(),
            scheduler: Some(kind),
            ..TextToImageRequest::new(reference["prompt"].as_str().unwrap())
        };
        let schedule = generator.schedule(&request).unwrap();
        let timesteps: Vec<f64> = serde_json::from_value(expected["timesteps"].clone()).unwrap();
        assert_eq!(schedule.timesteps(), timesteps, "{name} {class}");
        let sigma = expected["init_noise_sigma"].as_f64().unwrap();
        assert!(
            (schedule.init_noise_sigma() - sigma).abs() < 1e-4 * sigma,
            "{name} {class}: init sigma {} vs {sigma}",
            schedule.init_noise_sigma()
        );

        let conditioning = generator.conditioning(&request).unwrap();
        let start = (Tensor::from_vec(latents.clone(), (1, 4, 8, 8), &Device::Cpu).unwrap()
            * schedule.init_noise_sigma())
        .unwrap();
        let (raw, _) = generator
            .prediction(&schedule, 0, &start, &conditioning)
            .unwrap();
        let raw: Vec<f32> = raw.flatten_all().unwrap().to_vec1().unwrap();
        let unet = floats(&expected["unet_step1"]);
        let scale = unet.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let unet_diff = max_diff(&raw, &unet);
        assert!(
            unet_diff <= 1e-4 * scale,
            "{name} {class}: UNet step 1 off by {unet_diff}"
        );

        let mut noise: std::collections::VecDeque<Vec<f32>> =
            std::iter::once(latents.clone()).collect();
        for step_noise in expected["noise"].as_array().unwrap() {
            noise.push_back(floats(step_noise));
        }
        let mut recorded = Recorded(noise);
        let pixels = generator
            .generate(&request, &mut recorded, &RunContext::default())
            .unwrap();
        assert!(recorded.0.is_empty(), "{name} {class}: noise left over");
        // diffusers' numpy image is (H, W, 3).
        let image: Vec<f32> = pixels
            .permute((1, 2, 0))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let diff = max_diff(&image, &floats(&expected["image"]));
        assert!(diff <= 1e-3, "{name} {class}: image off by {diff}");
        println!("{name} {class}: UNet step 1 within {unet_diff:.2e}, image within {diff:.2e}");
    }
}

#[test]
fn sd1_matches_diffusers_with_euler_ancestral_ddim_and_lcm() {
    check_pipeline("sd1");
}

#[test]
fn sd2_with_v_prediction_matches_diffusers() {
    check_pipeline("sd2");
}

#[test]
fn sdxl_with_two_text_encoders_and_size_ids_matches_diffusers() {
    check_pipeline("sdxl");
}

#[test]
fn bad_requests_get_clear_errors() {
    let generator = ImageGenerator::load_dir(&pipeline_dir("sd1"), &Device::Cpu).unwrap();
    let ctx = RunContext::default();
    let error = |request: TextToImageRequest| {
        generator
            .run_request(&request, &ctx)
            .unwrap_err()
            .to_string()
    };
    assert!(error(TextToImageRequest::new("  ")).contains("prompt is empty"));
    let odd = error(TextToImageRequest {
        width: Some(18),
        ..TextToImageRequest::new("a cat")
    });
    assert!(odd.contains("width must be a multiple of 4"), "{odd}");
    let none = TextToImageRequest {
        steps: 0,
        ..TextToImageRequest::new("a cat")
    };
    assert!(error(none).contains("steps must be"));

    // Stop answers between steps and inside the VAE decode.
    let cancel = hubble::infer::CancelToken::new();
    cancel.cancel();
    let stopped = RunContext::new(cancel, None);
    let request = TextToImageRequest::new("a cat");
    assert!(matches!(
        generator.run_request(&request, &stopped),
        Err(InferError::Cancelled)
    ));
    let sd = StableDiffusion::load(&pipeline_dir("sd1"), &Device::Cpu).unwrap();
    let latents = Tensor::zeros((1, 4, 8, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        sd.decode(&latents, &|| true),
        Err(InferError::Cancelled)
    ));
    assert_eq!(sd.decode(&latents, &|| false).unwrap().dims(), [3, 16, 16]);
}

#[test]
fn hubble_run_saves_a_png_with_its_settings_and_repeats_a_seed() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = |file: &str, seed: &str| {
        let path = out.path().join(file);
        let run = hubble(
            home.path(),
            &[
                "run",
                "--model-dir",
                &fixture("tiny/sd1"),
                "--task",
                "text-to-image",
                "--input",
                "a cat on the moon",
                "--negative-prompt",
                "blurry",
                "--steps",
                "3",
                "--seed",
                seed,
                "--scheduler",
                "euler-ancestral",
                "--output",
                &path.display().to_string(),
                "--json",
            ],
            &[],
        )
        .ok();
        (path, run.json())
    };
    let (first, json) = run("a.png", "7");
    assert_eq!(json["task"], "text-to-image");
    assert_eq!(
        (json["width"].as_u64(), json["height"].as_u64()),
        (Some(16), Some(16))
    );
    assert_eq!(json["scheduler"], "euler-ancestral");
    assert_eq!(json["saved_to"], first.display().to_string());
    let (again, _) = run("b.png", "7");
    let (other, _) = run("c.png", "8");
    let pixels = |path: &Path| image::open(path).unwrap().to_rgb8();
    assert_eq!(
        pixels(&first),
        pixels(&again),
        "the same seed gives the same picture"
    );
    assert_ne!(
        pixels(&first),
        pixels(&other),
        "another seed gives another picture"
    );

    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&first).unwrap(),
    ));
    let reader = decoder.read_info().unwrap();
    let text: Vec<(String, String)> = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|chunk| (chunk.keyword.clone(), chunk.text.clone()))
        .collect();
    let get = |key: &str| text.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("prompt"), Some("a cat on the moon"));
    assert_eq!(get("negative_prompt"), Some("blurry"));
    assert_eq!(get("seed"), Some("7"));
    assert_eq!(get("model"), Some("sd1"));
    assert!(
        get("parameters")
            .unwrap()
            .contains("Steps: 3, Sampler: euler-ancestral")
    );

    let no_output = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/sd1"),
            "--input",
            "a cat",
        ],
        &[],
    );
    assert_eq!(no_output.status, Some(2), "{}", no_output.stderr);
    assert!(
        no_output.stderr.contains("--output FILE.png"),
        "{}",
        no_output.stderr
    );
    let bad_scheduler = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/sd1"),
            "--input",
            "a cat",
            "--scheduler",
            "pndm",
            "--output",
            &out.path().join("d.png").display().to_string(),
        ],
        &[],
    );
    assert_eq!(bad_scheduler.status, Some(2));
    assert!(
        bad_scheduler
            .stderr
            .contains("euler, euler-ancestral, ddim or lcm")
    );
}
