//! `hubble revisions`, `hubble datasets` and `hubble spaces` against the fixture hub.

use crate::support::cli;
use crate::support::python;

use cli::{hubble, hubble_at};
use fixture_hub::{FixtureHub, Repo, RepoFile, RepoKind};
use python::python;

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

#[test]
fn a_downloaded_parquet_dataset_previews_locally_and_python_sees_its_cache() {
    let work = tempfile::tempdir().unwrap();
    let parquet = work.path().join("train.parquet");
    let Some(_) = python("pyarrow", "make_parquet.py", &[parquet.to_str().unwrap()]) else {
        return;
    };
    let hub = FixtureHub::start();
    hub.add_repo(Repo {
        kind: RepoKind::Dataset,
        files: vec![
            RepoFile::new("README.md", "---\nlicense: mit\n---\n# Parquet dataset\n"),
            RepoFile::lfs(
                "data/train-00000-of-00001.parquet",
                std::fs::read(&parquet).unwrap(),
            ),
        ],
        ..Repo::new("hubble-tests/parquet-dataset")
    });
    let home = tempfile::tempdir().unwrap();
    let url = hub.url();
    let at = |args: &[&str]| {
        let mut full = vec!["--endpoint", url.as_str()];
        full.extend_from_slice(args);
        hubble(home.path(), &full, &[])
    };
    let download = at(&[
        "download",
        "hubble-tests/parquet-dataset",
        "--repo-type",
        "dataset",
        "--json",
    ])
    .ok()
    .json();
    let snapshot = download["path"].as_str().unwrap().to_owned();
    assert!(
        snapshot.contains("/hub/datasets--hubble-tests--parquet-dataset/snapshots/"),
        "{snapshot}"
    );
    assert!(hub.requests().iter().any(|r| r.path
        == "/datasets/hubble-tests/parquet-dataset/resolve/".to_owned()
            + download["commit"].as_str().unwrap()
            + "/data/train-00000-of-00001.parquet"));

    // The viewer does not know this dataset (404), so the preview reads the downloaded file.
    let viewer = hub.url();
    let preview = at(&[
        "datasets",
        "preview",
        "hubble-tests/parquet-dataset",
        "--viewer-endpoint",
        &viewer,
        "--rows",
        "3",
        "--json",
    ])
    .ok()
    .json();
    assert_eq!(preview["source"], "file");
    assert_eq!(preview["origin"], "data/train-00000-of-00001.parquet");
    let columns: Vec<(String, String)> = preview["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["dtype"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("text", "string"),
        ("label", "int64"),
        ("score", "double"),
        ("tags", "list"),
    ];
    assert_eq!(
        columns,
        want.map(|(n, t)| (n.to_owned(), t.to_owned())).to_vec()
    );
    let rows = preview["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], "great film");
    assert_eq!(rows[1][1], 0);
    assert_eq!(rows[2][3], serde_json::json!(["b", "c"]));

    let human = at(&[
        "datasets",
        "preview",
        "hubble-tests/parquet-dataset",
        "--local",
    ])
    .ok();
    assert!(human.stdout.contains("text (string)"), "{}", human.stdout);
    assert!(human.stdout.contains("boring plot"), "{}", human.stdout);

    let cache = home.path().join("hub");
    if let Some(text) = python(
        "huggingface_hub",
        "check_cache.py",
        &[cache.to_str().unwrap(), "x"],
    ) {
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(report["warnings"], serde_json::json!([]));
        let repos = report["repos"].as_array().unwrap();
        assert_eq!(repos.len(), 1, "{report}");
        assert_eq!(repos[0]["repo_id"], "hubble-tests/parquet-dataset");
        assert_eq!(repos[0]["repo_type"], "dataset");
        assert_eq!(repos[0]["nb_files"], 2);
    }
}

#[test]
fn datasets_search_info_and_viewer_preview() {
    let hub = FixtureHub::start();
    let url = hub.url();
    let found = hubble_at(
        &url,
        &[
            "datasets",
            "search",
            "tiny",
            "--task",
            "text-classification",
            "--size",
            "n<1K",
            "--modality",
            "text",
            "--format",
            "csv",
            "--language",
            "en",
            "--license",
            "mit",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["id"], "hubble-tests/tiny-dataset");
    let sent = hub
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/datasets")
        .unwrap();
    assert_eq!(
        sent.query_all("filter"),
        [
            "task_categories:text-classification",
            "size_categories:n<1K",
            "modality:text",
            "format:csv",
            "language:en",
            "license:mit",
        ]
    );
    let none = hubble_at(
        &url,
        &["datasets", "search", "--license", "gpl-3.0", "--json"],
        &[],
    )
    .ok()
    .json();
    assert_eq!(none, serde_json::json!([]));

    let info = hubble_at(
        &url,
        &["datasets", "info", "hubble-tests/tiny-dataset", "--json"],
        &[],
    )
    .ok()
    .json();
    assert_eq!(info["siblings"].as_array().unwrap().len(), 3);
    assert_eq!(info["siblings"][2]["size"], 49);

    let preview = hubble_at(
        &url,
        &[
            "datasets",
            "preview",
            "hubble-tests/tiny-dataset",
            "--viewer-endpoint",
            &url,
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    assert_eq!(preview["source"], "viewer");
    assert_eq!(preview["origin"], "default/train");
    assert_eq!(preview["columns"][1]["dtype"], "int64");
    assert_eq!(preview["rows"][2][0], "loved it");

    let missing = hubble_at(
        &url,
        &[
            "datasets",
            "preview",
            "hubble-tests/tiny-dataset",
            "--local",
        ],
        &[],
    );
    assert_eq!(missing.status, Some(5));
    assert!(
        missing
            .stderr
            .contains("hubble download hubble-tests/tiny-dataset --repo-type dataset")
    );
}

#[test]
fn spaces_using_a_model() {
    let hub = FixtureHub::start();
    let spaces = hubble_at(
        &hub.url(),
        &["spaces", "--model", "hubble-tests/tiny-model", "--json"],
        &[],
    )
    .ok()
    .json();
    let ids: Vec<&str> = spaces
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["hubble-tests/tiny-chat", "hubble-tests/tiny-bench"]);
    assert_eq!(spaces[0]["sdk"], "gradio");
    assert_eq!(spaces[0]["likes"], 7);
    let sent = hub
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/spaces")
        .unwrap();
    assert_eq!(sent.query_all("models"), ["hubble-tests/tiny-model"]);
}

#[test]
fn collections_search_and_show() {
    let hub = FixtureHub::start();
    let url = hub.url();
    let found = hubble_at(
        &url,
        &[
            "collections",
            "--item",
            "datasets/hubble-tests/tiny-dataset",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let slug = found[0]["slug"].as_str().unwrap().to_owned();
    assert_eq!(found[0]["items"].as_array().unwrap().len(), 4);
    let sent = hub
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/collections")
        .unwrap();
    assert_eq!(
        sent.query_all("item"),
        ["datasets/hubble-tests/tiny-dataset"]
    );

    let shown = hubble_at(&url, &["collections", "show", &slug, "--json"], &[])
        .ok()
        .json();
    let items: Vec<(&str, &str)> = shown["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["type"].as_str().unwrap(), i["id"].as_str().unwrap()))
        .collect();
    assert_eq!(items.len(), 5);
    assert_eq!(items[1], ("dataset", "hubble-tests/tiny-dataset"));
    assert_eq!(shown["items"][0]["note"]["text"], "Start here");

    let bad = hubble_at(&url, &["collections", "show", "../etc"], &[]);
    assert_eq!(bad.status, Some(2), "{}", bad.stderr);
}

#[test]
fn a_dead_viewer_names_its_own_setting_when_nothing_is_downloaded() {
    let hub = FixtureHub::start();
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let viewer = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let home = tempfile::tempdir().unwrap();
    let run = hubble(
        home.path(),
        &[
            "--endpoint",
            &hub.url(),
            "datasets",
            "preview",
            "hubble-tests/tiny-dataset",
            "--viewer-endpoint",
            &viewer,
        ],
        &[],
    );
    assert_ne!(run.status, Some(0), "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("Could not connect to {viewer}/splits")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("(--viewer-endpoint / HUBBLE_VIEWER_ENDPOINT)")
    );
    assert!(!run.stderr.contains("HF_ENDPOINT"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("run `hubble download hubble-tests/tiny-dataset --repo-type dataset`"),
        "{}",
        run.stderr
    );
}
