//! `hubble info` and `hubble card` against the fixture hub's recorded and card repos, and
//! `card` from the cache when offline.

use crate::support::cli;

use cli::{hubble, hubble_at};
use fixture_hub::FixtureHub;

#[test]
fn info_has_recorded_safetensors_totals_and_every_file_size() {
    let hub = FixtureHub::start();
    let run = hubble_at(
        &hub.url(),
        &["info", "google-bert/bert-base-uncased", "--json"],
        &[],
    )
    .ok();
    let info = run.json();
    assert_eq!(info["sha"], "86b5e0934494bd15c9632b12f734a8a67f723594");
    assert_eq!(info["safetensors"]["total"], 110106428);
    assert_eq!(info["safetensors"]["parameters"]["F32"], 110106428);
    assert_eq!(info["parameters"], 110106428);
    assert_eq!(info["pipeline_tag"], "fill-mask");
    assert_eq!(info["license"]["id"], "apache-2.0");
    assert_eq!(info["license"]["family"], "permissive");
    let siblings = info["siblings"].as_array().unwrap();
    assert_eq!(siblings.len(), 16);
    let sizes: Vec<u64> = siblings
        .iter()
        .map(|s| s["size"].as_u64().unwrap_or_else(|| panic!("no size: {s}")))
        .collect();
    assert_eq!(info["total_size"].as_u64(), Some(sizes.iter().sum()));
    let safetensors = siblings
        .iter()
        .find(|s| s["path"] == "model.safetensors")
        .unwrap();
    assert_eq!(
        safetensors["lfs"]["sha256"].as_str().map(str::len),
        Some(64)
    );

    let human = hubble_at(&hub.url(), &["info", "google-bert/bert-base-uncased"], &[]).ok();
    assert!(
        human.stdout.contains("parameters  110.1M (F32 110.1M)"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("16 files"), "{}", human.stdout);
}

#[test]
fn card_shows_license_metadata_and_evaluation_rows() {
    let hub = FixtureHub::start();
    let json = hubble_at(&hub.url(), &["card", "openai/whisper-base", "--json"], &[])
        .ok()
        .json();
    assert_eq!(json["license"]["family"], "permissive");
    assert_eq!(
        json["metadata"]["pipeline_tag"],
        "automatic-speech-recognition"
    );
    let rows = json["metadata"]["model_index"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["dataset_name"], "LibriSpeech (clean)");
    assert_eq!(rows[0]["metric_name"], "Test WER");
    assert_eq!(rows[0]["value"], "5.008769117619326");
    assert!(json["body"].as_str().unwrap().contains("# Whisper"));

    let human = hubble_at(&hub.url(), &["card", "bigscience/bloom"], &[]).ok();
    assert!(
        human
            .stdout
            .contains("BigScience BLOOM RAIL 1.0 (OpenRAIL)"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("Evaluation results"),
        "{}",
        human.stdout
    );

    let yaml = hubble_at(
        &hub.url(),
        &["card", "Qwen/Qwen2.5-72B-Instruct", "--front-matter"],
        &[],
    )
    .ok();
    assert!(
        yaml.stdout
            .starts_with("license: other\nlicense_name: qwen\n"),
        "{}",
        yaml.stdout
    );
}

#[test]
fn offline_card_comes_from_the_cache() {
    let home = tempfile::tempdir().unwrap();
    let commit = "1234567890abcdef1234567890abcdef12345678";
    let repo = home.path().join("hub/models--someone--cached-model");
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    std::fs::write(
        snapshot.join("README.md"),
        "---\nlicense: mit\n---\n# Cached card\n",
    )
    .unwrap();

    let run = hubble(
        home.path(),
        &["card", "someone/cached-model", "--json"],
        &[("HF_HUB_OFFLINE", "1")],
    )
    .ok();
    let json = run.json();
    assert_eq!(json["source"], "cache");
    assert_eq!(json["license"]["id"], "mit");
    assert!(run.stderr.contains("cached card"), "{}", run.stderr);

    let missing = hubble(
        home.path(),
        &["card", "someone/elsewhere"],
        &[("HF_HUB_OFFLINE", "1")],
    );
    assert_eq!(missing.status, Some(5));
    assert!(
        missing.stderr.contains("Offline mode is on"),
        "{}",
        missing.stderr
    );
}
