//! `--threads N` sets the CPU threads inference uses, and results don't depend on it: the real
//! SmolLM2 Q4_1 GGUF answers with the same greedy tokens on 1 and 2 threads, and MiniLM's
//! sentence embeddings agree within 1e-6; `hubble system` reports the count.

use crate::support::cli;

use crate::support::weights;

use cli::hubble;
use serde_json::Value;

fn run_on(threads: &str, model: &str, extra: &[&str]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--threads",
        threads,
        "run",
        "--model-dir",
        model,
        "--device",
        "cpu",
        "--json",
    ];
    args.extend_from_slice(extra);
    hubble(home.path(), &args, &[]).ok().json()
}

#[test]
fn greedy_tokens_are_the_same_on_one_and_two_threads() {
    let Some(dir) = weights::real_weights("smollm2") else {
        return;
    };
    let dir = dir.display().to_string();
    let generate = [
        "--input",
        "Write a short story about a lighthouse keeper.",
        "--temperature",
        "0",
        "--repeat-penalty",
        "1",
        "--max-tokens",
        "24",
    ];
    let one = run_on("1", &dir, &generate);
    let two = run_on("2", &dir, &generate);
    assert_eq!(one["generated_tokens"], 24, "{one}");
    assert_eq!(one["token_ids"], two["token_ids"]);
    assert_eq!(one["text"], two["text"]);
}

#[test]
fn embeddings_agree_on_one_and_two_threads() {
    let Some(dir) = weights::real_weights("all-MiniLM-L6-v2") else {
        return;
    };
    let dir = dir.display().to_string();
    let embed = [
        "--task",
        "feature-extraction",
        "--input",
        "Threads share the work of one matrix product.",
    ];
    let vector = |json: &Value| -> Vec<f64> {
        serde_json::from_value(json["embeddings"][0].clone()).unwrap()
    };
    let (one, two) = (
        vector(&run_on("1", &dir, &embed)),
        vector(&run_on("2", &dir, &embed)),
    );
    assert_eq!(one.len(), 384);
    let worst = one
        .iter()
        .zip(&two)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-6, "embeddings differ by {worst}");
}

#[test]
fn hubble_system_reports_the_thread_count() {
    let home = tempfile::tempdir().unwrap();
    let run = hubble(home.path(), &["--threads", "3", "system"], &[]).ok();
    assert!(
        run.stdout.contains("threads 3 for inference"),
        "{}",
        run.stdout
    );
    let run = hubble(home.path(), &["system"], &[("RAYON_NUM_THREADS", "5")]).ok();
    assert!(
        run.stdout.contains("threads 5 for inference"),
        "{}",
        run.stdout
    );
}
