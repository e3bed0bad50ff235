//! Preprocessing parity: Hubble's image processors against transformers' PIL image processors
//! (ViT, ConvNeXt, CLIP, SigLIP, BLIP at 224 px) on real photos, value for value (≤ 1e-5).
//! The reference (`tests/fixtures/images/preprocess_reference.json`) holds each output's shape,
//! sum, abs sum, min, max and every 97th value (`scripts/reference/make_tiny_vision.py`).

use std::path::Path;

use hubble::media::{ImageProcessor, load_image};
use serde_json::Value;

#[test]
fn preprocessing_matches_transformers_on_real_photos() {
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
    let text = std::fs::read_to_string(images.join("preprocess_reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for (photo, kinds) in reference["photos"].as_object().unwrap() {
        let image = load_image(&images.join(photo)).unwrap();
        for (kind, entry) in kinds.as_object().unwrap() {
            let processor = ImageProcessor::from_json(&entry["config"]).unwrap();
            let out = processor.preprocess(&image).unwrap();
            let expected = &entry["pixel_values"];
            let shape: Vec<u64> = serde_json::from_value(expected["shape"].clone()).unwrap();
            assert_eq!(
                shape,
                [1, 3, out.height as u64, out.width as u64],
                "{photo} {kind}"
            );
            let stride = expected["stride"].as_u64().unwrap() as usize;
            let sample: Vec<f64> = serde_json::from_value(expected["sample"].clone()).unwrap();
            let mut max_diff = 0f64;
            for (i, want) in sample.iter().enumerate() {
                max_diff = max_diff.max((f64::from(out.data[i * stride]) - want).abs());
            }
            let sum: f64 = out.data.iter().map(|v| f64::from(*v)).sum();
            let abs_sum: f64 = out.data.iter().map(|v| f64::from(v.abs())).sum();
            let n = out.data.len() as f64;
            eprintln!(
                "{photo} {kind}: max |diff| of {} sampled values {max_diff:e}",
                sample.len()
            );
            assert!(max_diff <= 1e-5, "{photo} {kind}: max diff {max_diff}");
            // Every value, through the sums: a one-level (1/255/std ≈ 0.02) error anywhere shows.
            assert!(
                (sum - expected["sum"].as_f64().unwrap()).abs() <= 1e-5 * n,
                "{photo} {kind} sum"
            );
            assert!(
                (abs_sum - expected["abs_sum"].as_f64().unwrap()).abs() <= 1e-5 * n,
                "{photo} {kind} abs sum"
            );
            let min = out.data.iter().copied().fold(f32::INFINITY, f32::min);
            let max = out.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert!((f64::from(min) - expected["min"].as_f64().unwrap()).abs() <= 1e-5);
            assert!((f64::from(max) - expected["max"].as_f64().unwrap()).abs() <= 1e-5);
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}
