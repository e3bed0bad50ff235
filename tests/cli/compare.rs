//! `hubble compare`: the binary end to end on tiny checkpoints cached like downloads (the
//! llama's safetensors and the same weights as a GGUF file must give the same greedy answer),
//! JSON and human output, a blind vote read from stdin, Markdown export, and its errors.

use crate::support::cache;
use crate::support::cli;
use crate::support::gguf;

use std::path::Path;

use cli::{fixture, hubble, hubble_with_stdin};

/// PyTorch's greedy words for [`PROMPT`] (tests/fixtures/tiny/llama/reference.json).
const GREEDY: [&str; 8] = ["t50", "t48", "t255", "t3", "t86", "t50", "t48", "t255"];
const PROMPT: &str = "t3 t17 t42 t101 t7 t250 t64 t9 t33 t128";

/// Caches the tiny `fixture` checkpoint as `acme/<fixture>`.
fn cache_tiny(home: &Path, fixture_name: &str) {
    let source = fixture(&format!("tiny/{fixture_name}"));
    cache::install(
        &home.join("hub"),
        &format!("acme/{fixture_name}"),
        Path::new(&source),
    );
}

/// Caches `acme/llama-gguf` with the tiny llama as two F32 GGUF files (two "quants").
fn cache_gguf(home: &Path) {
    let files = home.join("gguf");
    std::fs::create_dir_all(&files).unwrap();
    let first = files.join("tiny-llama-f32.gguf");
    gguf::convert(Path::new(&fixture("tiny/llama")), &first);
    std::fs::copy(&first, files.join("tiny-llama-copy-f32.gguf")).unwrap();
    cache::install(&home.join("hub"), "acme/llama-gguf", &files);
}

fn greedy_args<'a>(models: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["compare"];
    args.extend_from_slice(models);
    args.extend([
        "--input",
        PROMPT,
        "--raw",
        "--temperature",
        "0",
        "--repeat-penalty",
        "1",
        "--max-tokens",
        "8",
        "--device",
        "cpu",
    ]);
    args
}

#[test]
fn a_checkpoint_and_its_gguf_answer_alike_as_json_with_their_figures() {
    let home = tempfile::tempdir().unwrap();
    cache_tiny(home.path(), "llama");
    cache_gguf(home.path());
    let models = ["acme/llama", "acme/llama-gguf:tiny-llama-copy-f32.gguf"];
    let mut args = greedy_args(&models);
    args.push("--json");
    let out = hubble(home.path(), &args, &[]).ok().json();
    assert_eq!(out["task"], "text-generation");
    assert_eq!(out["input"], PROMPT);
    assert_eq!(out["blind"], false);
    assert!(out["vote"].is_null());
    let runs = out["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for (run, model) in runs.iter().zip(models) {
        assert_eq!(run["model"], model);
        assert!(run["error"].is_null(), "{run}");
        let answer = run["answer"].as_str().unwrap();
        let words: Vec<&str> = answer.split_whitespace().collect();
        assert_eq!(words, GREEDY, "{model}");
        assert_eq!(run["generated_tokens"], 8);
        assert_eq!(run["output"]["stop_reason"], "max_tokens");
        let seconds = |key: &str| run[key].as_f64().unwrap_or_else(|| panic!("{key}: {run}"));
        assert!(seconds("load_s") > 0.0);
        assert!(seconds("first_token_s") > 0.0);
        assert!(seconds("total_s") >= seconds("first_token_s"));
        assert!(seconds("tokens_per_s") > 0.0);
        assert!(
            run["peak_rss_bytes"].as_u64().unwrap() > 10_000_000,
            "{run}"
        );
        assert!(run["rss_rise_bytes"].is_u64(), "{run}");
    }
    assert!(runs[1]["loaded"].as_str().unwrap().contains("gguf"));
}

#[test]
fn blind_answers_are_lettered_until_a_vote_from_stdin_names_them() {
    let home = tempfile::tempdir().unwrap();
    cache_tiny(home.path(), "llama");
    cache_tiny(home.path(), "qwen2");
    let markdown = home.path().join("arena.md");
    let mut args = greedy_args(&["acme/llama", "acme/qwen2"]);
    args.extend(["--blind", "--markdown", markdown.to_str().unwrap()]);
    let run = hubble_with_stdin(home.path(), &args, &[], "b\n").ok();
    let table = run.stdout.find("First token").expect("the figures table");
    let answers = &run.stdout[..table];
    assert!(answers.contains("── Model A ──") && answers.contains("── Model B ──"));
    assert!(!answers.contains("acme/"), "names hidden: {answers}");
    assert!(!run.stderr.contains("acme/"), "{}", run.stderr);
    assert!(run.stderr.contains("Which answer is best?"));
    let figures = &run.stdout[table..];
    assert!(
        figures.contains("acme/llama") && figures.contains("acme/qwen2"),
        "{figures}"
    );
    assert!(figures.contains("tok/s"), "{figures}");
    assert!(figures.contains("winner: Model B · acme/"), "{figures}");
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    assert!(
        markdown.contains("**Winner:** Model B (acme/"),
        "{markdown}"
    );
    assert!(markdown.contains("| Model A | acme/"), "{markdown}");

    // No vote: the names stay hidden, in the table too.
    let run = hubble_with_stdin(home.path(), &args, &[], "\n").ok();
    assert!(!run.stdout.contains("acme/"), "{}", run.stdout);
    assert!(run.stdout.contains("(hidden)"));
    assert!(run.stderr.contains("No vote: the names stay hidden."));
}

#[test]
fn models_not_cached_and_wrong_counts_are_refused_clearly() {
    let home = tempfile::tempdir().unwrap();
    cache_tiny(home.path(), "llama");
    cache_gguf(home.path());

    let run = hubble(
        home.path(),
        &greedy_args(&["acme/llama", "acme/missing"]),
        &[],
    );
    assert_eq!(run.status, Some(3), "{}", run.stderr);
    assert!(
        run.stderr.contains("acme/missing") && run.stderr.contains("hubble download acme/missing"),
        "{}",
        run.stderr
    );

    let run = hubble(home.path(), &greedy_args(&["acme/llama"]), &[]);
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("compare takes 2 to 4 models, not 1"));
    let mut args = greedy_args(&["acme/llama", "acme/llama"]);
    args.extend(["--input-file", "-"]);
    args.retain(|a| *a != PROMPT && *a != "--input");
    let run = hubble(home.path(), &args, &[]);
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("not stdin"), "{}", run.stderr);
    let five = ["acme/llama"; 5];
    let run = hubble(home.path(), &greedy_args(&five), &[]);
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("not 5"));

    let mut args = greedy_args(&["acme/llama", "acme/llama-gguf:nope.gguf"]);
    args.push("--json");
    let run = hubble(home.path(), &args, &[]);
    assert_eq!(run.status, Some(3), "{}", run.stderr);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("acme/llama-gguf:nope.gguf: missing nope.gguf"),
        "{error}"
    );
    assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_on_stdout_ends_quietly() {
    let home = tempfile::tempdir().unwrap();
    cache_tiny(home.path(), "llama");
    cache_tiny(home.path(), "qwen2");
    let output = cli::hubble_into_closed_pipe(
        home.path(),
        &greedy_args(&["acme/llama", "acme/qwen2"]),
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "a panic's exit status");
}
