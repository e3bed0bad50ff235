//! `hubble revisions`, `hubble datasets` and `hubble spaces` against the fixture hub.

#[path = "support/cli.rs"]
mod cli;

use cli::hubble_at;
use fixture_hub::FixtureHub;

#[test]
fn revisions_lists_branches_tags_and_commits() {
    let hub = FixtureHub::start();
    let json = hubble_at(
        &hub.url(),
        &[
            "revisions",
            "hubble-tests/tiny-model",
            "--revision",
            "dev",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let names = |key: &str| -> Vec<String> {
        json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("branches"), ["main", "dev"]);
    assert_eq!(names("tags"), ["v1.0"]);
    assert_eq!(json["tags"][0]["ref"], "refs/tags/v1.0");
    let dev_commit = json["branches"][1]["target_commit"].as_str().unwrap();
    assert_eq!(json["revision"], "dev");
    assert_eq!(json["commits"][0]["id"], dev_commit);
    assert_eq!(json["commits"][0]["authors"][0]["user"], "hubble-tester");
    assert_eq!(json["commits"].as_array().unwrap().len(), 2);

    let human = hubble_at(&hub.url(), &["revisions", "hubble-tests/tiny-model"], &[]).ok();
    assert!(human.stdout.contains("tag     v1.0"), "{}", human.stdout);

    let missing = hubble_at(&hub.url(), &["revisions", "nobody/nothing"], &[]);
    assert_eq!(missing.status, Some(3), "{}", missing.stderr);
}
