//! `hubble run`: the binary end to end on the tiny committed checkpoints, the cache lookup and
//! its "not downloaded" answer.

use crate::support::cli;

use std::path::Path;

use cli::{fixture, hubble};

fn tiny(name: &str) -> String {
    fixture(&format!("tiny/{name}"))
}

#[test]
fn generates_greedily_from_a_model_dir_as_json() {
    let home = tempfile::tempdir().unwrap();
    let dir = tiny("llama");
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &dir,
            "--task",
            "text-generation",
            "--input",
            "t3 t17 t42 t101 t7 t250 t64 t9 t33 t128",
            "--raw",
            "--temperature",
            "0",
            "--repeat-penalty",
            "1",
            "--max-tokens",
            "8",
            "--device",
            "cpu",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["task"], "text-generation");
    // The same greedy tokens PyTorch produced (tests/fixtures/tiny/llama/reference.json).
    assert_eq!(
        out["token_ids"],
        serde_json::json!([50, 48, 255, 3, 86, 50, 48, 255])
    );
    assert_eq!(out["stop_reason"], "max_tokens");
    assert_eq!(out["generated_tokens"], 8);
}

#[test]
fn streams_text_and_embeds_sentences() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("qwen2"),
            "--input",
            "t1 t2 t3",
            "--raw",
            "--max-tokens",
            "3",
            "--seed",
            "1",
        ],
        &[],
    )
    .ok();
    assert_eq!(run.stdout.split_whitespace().count(), 3, "{}", run.stdout);
    assert!(run.stderr.contains("generated at"), "{}", run.stderr);

    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("bert"),
            "--input",
            "a man is eating food",
            "--input",
            "a man is riding a horse",
            "--input",
            "the cat sits on the mat",
        ],
        &[],
    )
    .ok();
    assert!(
        run.stdout
            .starts_with("cosine similarity to \"a man is eating food\":"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 3);
}

#[test]
fn missing_models_and_unsupported_tasks_are_explained() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(home.path(), &["run", "org/absent", "--input", "hi"], &[]);
    assert_eq!(run.status, Some(3), "{}", run.stderr);
    assert!(
        run.stderr.contains("not downloaded") && run.stderr.contains("hubble download org/absent"),
        "{}",
        run.stderr
    );

    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("bert"),
            "--task",
            "translation",
            "--input",
            "x",
            "--json",
        ],
        &[],
    );
    assert_eq!(run.status, Some(1));
    let err: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(err["error"]["kind"], "not_supported");
    assert_eq!(
        err["error"]["message"],
        "not supported yet: BertModel for translation"
    );

    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("bert"),
            "--device",
            "tpu",
            "--input",
            "x",
        ],
        &[],
    );
    assert_eq!(run.status, Some(2), "{}", run.stderr);
}

#[test]
fn runs_from_the_hub_cache_snapshot() {
    let home = tempfile::tempdir().unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo = home.path().join("hub/models--org--tiny-llama");
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    std::fs::write(snapshot.join("README.md"), "# only the card").unwrap();
    let run = hubble(
        home.path(),
        &["run", "org/tiny-llama", "--input", "t1"],
        &[],
    );
    assert_eq!(run.status, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("not downloaded"), "{}", run.stderr);

    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(Path::new(&tiny("llama")).join(file), snapshot.join(file)).unwrap();
    }
    let run = hubble(
        home.path(),
        &[
            "run",
            "org/tiny-llama",
            "--task",
            "text-generation",
            "--input",
            "t1 t2",
            "--raw",
            "--max-tokens",
            "2",
            "--json",
        ],
        &[],
    )
    .ok();
    assert_eq!(run.json()["generated_tokens"], 2);
}

#[test]
fn classifies_tags_and_fills_masks() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("distilbert-cls"),
            "--input",
            "a man is eating food",
            "--input",
            "the cat sits",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["task"], "text-classification");
    assert_eq!(out["results"].as_array().unwrap().len(), 2);
    let labels = out["results"][0]["labels"].as_array().unwrap();
    let total: f64 = labels.iter().map(|l| l["score"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-5, "{out}");

    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("roberta-ner"),
            "--task",
            "ner",
            "--input",
            "a dog runs in the park",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["task"], "token-classification");
    assert_eq!(out["results"][0]["tokens"].as_array().unwrap().len(), 6);

    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("bert-mlm"),
            "--input",
            "a man is [MASK] food",
        ],
        &[],
    )
    .ok();
    // The human answer: the text, then five candidates with their filled sentences.
    assert_eq!(run.stdout.lines().count(), 6, "{}", run.stdout);
    assert!(
        run.stdout.lines().nth(1).unwrap().contains("a man is"),
        "{}",
        run.stdout
    );

    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("bert-mlm"),
            "--input",
            "no mask",
        ],
        &[],
    );
    assert_eq!(run.status, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("put [MASK] where a word is missing"),
        "{}",
        run.stderr
    );
}

#[test]
fn summarises_with_the_models_own_prefix() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &tiny("flan-t5"),
            "--task",
            "summarization",
            "--input",
            "a man is eating food on the mat",
            "--max-tokens",
            "8",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["task"], "summarization");
    // Greedy by default, so the same tokens PyTorch produced
    // (tests/fixtures/tiny/flan-t5/reference.json).
    assert_eq!(
        out["token_ids"],
        serde_json::json!([33, 33, 28, 34, 34, 34, 33, 28])
    );
    assert_eq!(out["input_tokens"], 11, "summarize: + 9 words + </s>");
}

#[test]
fn translates_with_a_marian_model_and_its_sentencepiece_files() {
    let home = tempfile::tempdir().unwrap();
    let dir = tiny("marian");
    let run = hubble(
        home.path(),
        &[
            "run",
            "--model-dir",
            &dir,
            "--task",
            "translation",
            "--input",
            ">>de<< The cat sat on the mat.",
            "--max-tokens",
            "8",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["task"], "translation");
    // Greedy by default: the tokens and text PyTorch produced for this input.
    let text = std::fs::read_to_string(Path::new(&dir).join("reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["token_ids"], reference["greedy"]);
    assert_eq!(out["text"], reference["greedy_text"]);
    assert_eq!(out["input_tokens"], 14, ">>de<< + 12 pieces + </s>");
}

/// The four tasks added with the task files: each through `hubble run --json`, answering what
/// their parity references say.
#[test]
fn answers_questions_classifies_zero_shot_and_audio_and_detects_objects() {
    let home = tempfile::tempdir().unwrap();
    let json = |args: &[&str]| hubble(home.path(), args, &[]).ok().json();
    let reference = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(Path::new(&tiny(name)).join("reference.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };

    let qa = reference("bert-qa");
    let example = &qa["examples"][0];
    let out = json(&[
        "run",
        "--model-dir",
        &tiny("bert-qa"),
        "--input",
        example["question"].as_str().unwrap(),
        "--context",
        example["context"].as_str().unwrap(),
        "--top-k",
        "3",
        "--json",
    ]);
    assert_eq!(out["task"], "question-answering");
    for (ours, theirs) in out["answers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(example["answers"].as_array().unwrap())
    {
        assert_eq!(ours["answer"], theirs["answer"]);
        assert_eq!(ours["start"], theirs["start"]);
        assert_eq!(ours["end"], theirs["end"]);
    }

    let nli = reference("bart-nli");
    let labels: Vec<String> = serde_json::from_value(nli["candidate_labels"].clone()).unwrap();
    let run = &nli["runs"][1];
    assert_eq!(run["multi_label"], true);
    let expected = &run["results"][0];
    let out = json(&[
        "run",
        "--model-dir",
        &tiny("bart-nli"),
        "--task",
        "zero-shot-classification",
        "--input",
        expected["sequence"].as_str().unwrap(),
        "--labels",
        &labels.join(","),
        "--multi-label",
        "--json",
    ]);
    assert_eq!(out["task"], "zero-shot-classification");
    assert_eq!(out["labels"], expected["labels"]);

    let audio = reference("ast-cls");
    let out = json(&[
        "run",
        "--model-dir",
        &tiny("ast-cls"),
        "--input-file",
        &fixture("audio/speech.wav"),
        "--top-k",
        "5",
        "--json",
    ]);
    assert_eq!(out["task"], "audio-classification");
    let ours: Vec<&str> = out["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    let theirs: Vec<&str> = audio["top5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(ours, theirs);

    let detection = reference("yolos");
    let threshold = detection["threshold"].as_f64().unwrap().to_string();
    let out = json(&[
        "run",
        "--model-dir",
        &tiny("yolos"),
        "--input-file",
        &fixture("images/chelsea.png"),
        "--threshold",
        &threshold,
        "--json",
    ]);
    assert_eq!(out["task"], "object-detection");
    let expected = detection["photos"]["chelsea.png"]["detections"]
        .as_array()
        .unwrap();
    let found = out["detections"].as_array().unwrap();
    assert_eq!(found.len(), expected.len());
    for (ours, theirs) in found.iter().zip(expected) {
        assert_eq!(ours["label"], theirs["label"]);
        assert!(ours["box"]["xmin"].is_number() && ours["box"]["ymax"].is_number());
    }
}

use crate::support::gguf;

/// `--device wgpu:NAME` through the binary: the tiny llama written as an F32 GGUF decodes
/// PyTorch's greedy tokens on lavapipe (or `HUBBLE_TEST_ADAPTER`), and says where it ran; a
/// name no adapter has is a clear error listing the adapters.
#[test]
fn generates_on_a_wgpu_adapter_picked_by_name() {
    let home = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    gguf::convert(
        Path::new(&tiny("llama")),
        &models.path().join("tiny-llama-f32.gguf"),
    );
    let adapter = std::env::var("HUBBLE_TEST_ADAPTER").unwrap_or_else(|_| "llvmpipe".into());
    let device = format!("wgpu:{adapter}");
    let args = |device: &str| {
        [
            "run",
            "--model-dir",
            models.path().to_str().unwrap(),
            "--input",
            "t3 t17 t42 t101 t7 t250 t64 t9 t33 t128",
            "--raw",
            "--temperature",
            "0",
            "--repeat-penalty",
            "1",
            "--max-tokens",
            "8",
            "--device",
            device,
        ]
        .map(String::from)
    };
    let run_args = args(&device);
    let run_args: Vec<&str> = run_args.iter().map(String::as_str).collect();
    let run = hubble(home.path(), &run_args, &[]).ok();
    // PyTorch's greedy tokens (reference.json), as the fixture tokenizer's words.
    let words: Vec<&str> = run.stdout.split_whitespace().collect();
    assert_eq!(
        words,
        ["t50", "t48", "t255", "t3", "t86", "t50", "t48", "t255"],
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("on wgpu:") && run.stderr.contains("MiB of GPU memory"),
        "{}",
        run.stderr
    );

    let bad_args = args("wgpu:no-such-gpu");
    let bad_args: Vec<&str> = bad_args.iter().map(String::as_str).collect();
    let run = hubble(home.path(), &bad_args, &[]);
    assert_ne!(run.status, Some(0));
    assert!(
        run.stderr.contains("no adapter is named like") && run.stderr.contains(&adapter),
        "{}",
        run.stderr
    );
}
