//! `hubble run` on images: image classification, zero-shot classification and captions on the
//! tiny committed checkpoints, and clear errors (exit 2) for unusable input files.

use crate::support::cli;

use std::path::Path;

use cli::{fixture, hubble};

#[test]
fn classifies_a_photo_with_top_k_as_json() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/vit-cls"),
            "--input-file",
            &fixture("images/chelsea.png"),
            "--top-k",
            "2",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["task"], "image-classification");
    assert_eq!(
        (out["width"].as_u64(), out["height"].as_u64()),
        (Some(451), Some(300))
    );
    let labels = out["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 2);
    // PyTorch's softmax of the reference logits: car 0.472, house 0.284.
    assert_eq!(labels[0]["label"], "car");
    assert!((labels[0]["score"].as_f64().unwrap() - 0.4724).abs() < 1e-3);
    assert_eq!(labels[1]["label"], "house");
}

#[test]
fn zero_shot_scores_the_given_labels() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &fixture("tiny/siglip"),
            "--input-file",
            &fixture("images/chelsea.png"),
            "--labels",
            "cat, dog,car",
        ],
        &[],
    )
    .ok();
    // SigLIP's sigmoid scores from reference.json: cat 55.3%, car 54.5%, dog 53.2%.
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "451 × 300 image");
    assert!(lines[1].ends_with("%  cat"), "{lines:?}");
    assert!(lines[2].ends_with("%  car"), "{lines:?}");
    assert!(lines[3].ends_with("%  dog"), "{lines:?}");
}

#[test]
fn unusable_inputs_exit_2_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let text = home.path().join("notes.png");
    std::fs::write(&text, "hello").unwrap();
    let vit = fixture("tiny/vit-cls");
    let photo = fixture("images/chelsea.png");
    for (args, message) in [
        (
            vec!["--input-file", empty.to_str().unwrap()],
            "the file is empty (0 bytes): pick an image file",
        ),
        (
            vec!["--input-file", text.to_str().unwrap()],
            "not an image Hubble can read",
        ),
        (
            vec![],
            "image-classification needs an image: pass --input-file IMAGE",
        ),
    ] {
        let mut all = vec!["run", "--model-dir", &vit];
        all.extend(args);
        let run = hubble(home.path(), &all, &[]);
        assert_eq!(run.status, Some(2), "{all:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{all:?}: {}", run.stderr);
    }
    // A task the model can't do is "not supported" (exit 1, as for text models).
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &vit,
            "--input-file",
            &photo,
            "--task",
            "zero-shot-image-classification",
        ],
        &[],
    );
    assert_eq!(run.status, Some(1));
    assert!(run.stderr.contains(
        "not supported yet: ViTForImageClassification for zero-shot-image-classification"
    ));
    let clip = fixture("tiny/clip");
    let run = hubble(
        home.path(),
        &["run", "--model-dir", &clip, "--input-file", &photo],
        &[],
    );
    assert_eq!(run.status, Some(2));
    assert!(
        run.stderr.contains("pass --labels cat,dog,car"),
        "{}",
        run.stderr
    );
}

#[test]
fn captions_a_photo_streamed_and_as_json() {
    let home = tempfile::tempdir().unwrap();
    let blip = fixture("tiny/blip");
    let text = std::fs::read_to_string(Path::new(&blip).join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let photo = fixture("images/chelsea.png");
    let base = [
        "run",
        "--model-dir",
        &blip,
        "--input-file",
        &photo,
        "--max-tokens",
        "8",
    ];
    let run = hubble(home.path(), &base, &[]).ok();
    // The model's default task is image-to-text; PyTorch's greedy caption, streamed to stdout.
    assert_eq!(
        run.stdout.trim_end(),
        reference["caption"].as_str().unwrap()
    );
    assert!(
        run.stderr.contains("451 × 300 image, 8 tokens"),
        "{}",
        run.stderr
    );
    let prompt = reference["prompt"].as_str().unwrap();
    let mut args = base.to_vec();
    args.extend(["--prompt", prompt, "--json"]);
    let out = hubble(home.path(), &args, &[]).ok().json();
    assert_eq!(out["task"], "image-to-text");
    assert_eq!(out["text"], reference["prompted_caption"]);
    assert_eq!(out["stop_reason"], "max_tokens");
    let ids: Vec<u64> = serde_json::from_value(reference["prompted_ids"].clone()).unwrap();
    let start = reference["prompt_ids"].as_array().unwrap().len();
    assert_eq!(
        out["token_ids"],
        serde_json::to_value(&ids[start..]).unwrap()
    );
    let run = hubble(home.path(), &["run", "--model-dir", &blip], &[]);
    assert_eq!(run.status, Some(2));
    assert!(
        run.stderr
            .contains("image-to-text needs an image: pass --input-file IMAGE"),
        "{}",
        run.stderr
    );
}
