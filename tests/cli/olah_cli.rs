//! `hubble info` and `hubble card` against olah, a third-party Hub mirror, run offline over a
//! git repo made here. olah's quirks (no `blobs=true`, a redirect on tree listings, 401 for
//! anything missing) must not stop them.

use crate::support::cli;
use crate::support::olah;

use cli::hubble;
use olah::{MirrorRepo, Olah};

const ID: &str = "hubble-test/olah-model";
const README: &str = "---\nlicense: cc-by-nc-4.0\npipeline_tag: text-classification\n\
library_name: transformers\nlanguage:\n- en\n- de\n---\n\n# Olah model\n\nServed by a mirror.\n";
const CONFIG: &str = "{\"model_type\":\"bert\",\"num_labels\":2}\n";

fn weights() -> Vec<u8> {
    (0..4096u32).flat_map(|i| i.to_le_bytes()).collect()
}

fn start() -> Option<Olah> {
    Olah::start_for_test(&[MirrorRepo {
        id: ID,
        files: vec![
            ("README.md", README.as_bytes().to_vec()),
            ("config.json", CONFIG.as_bytes().to_vec()),
            ("model.safetensors", weights()),
        ],
    }])
}

#[test]
fn info_and_card_work_against_olah() {
    let Some(olah) = start() else { return };
    let home = tempfile::tempdir().unwrap();
    let url = olah.url();

    let info = hubble(
        home.path(),
        &["--endpoint", &url, "info", ID, "--json"],
        &[],
    )
    .ok();
    let info = info.json();
    assert_eq!(info["id"], ID);
    assert_eq!(info["sha"], olah.commit_of(ID));
    let size_of = |name: &str| {
        info["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["path"] == name)
            .unwrap_or_else(|| panic!("no {name} in {info}"))["size"]
            .as_u64()
    };
    // olah ignores blobs=true: sizes come from the tree listing, behind olah's redirect.
    assert_eq!(size_of("README.md"), Some(README.len() as u64));
    assert_eq!(size_of("model.safetensors"), Some(weights().len() as u64));
    assert_eq!(
        info["total_size"].as_u64(),
        Some((README.len() + CONFIG.len() + weights().len()) as u64)
    );
    assert_eq!(info["license"]["family"], "non_commercial");

    let card = hubble(
        home.path(),
        &["--endpoint", &url, "card", ID, "--json"],
        &[],
    )
    .ok();
    let card = card.json();
    assert_eq!(card["source"], "hub");
    assert_eq!(card["metadata"]["pipeline_tag"], "text-classification");
    assert_eq!(
        card["metadata"]["language"],
        serde_json::json!(["en", "de"])
    );
    assert_eq!(card["license"]["id"], "cc-by-nc-4.0");
    assert!(
        card["body"]
            .as_str()
            .unwrap()
            .trim_start()
            .starts_with("# Olah model")
    );

    let human = hubble(home.path(), &["--endpoint", &url, "card", ID], &[]).ok();
    assert!(human.stdout.contains("Non-commercial"), "{}", human.stdout);
}

#[test]
fn olah_missing_things_become_clear_errors() {
    let Some(olah) = start() else { return };
    let home = tempfile::tempdir().unwrap();
    let url = olah.url();
    let missing = hubble(
        home.path(),
        &["--endpoint", &url, "info", "nobody/missing"],
        &[],
    );
    assert_eq!(missing.status, Some(3), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("nobody/missing was not found"),
        "{}",
        missing.stderr
    );
}
