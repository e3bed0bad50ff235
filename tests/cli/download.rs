//! `hubble download` and `hubble cache` end to end: the real binary against the fixture hub
//! and olah, the cache checked by Python's huggingface_hub (and the other way round), kill -9
//! and resume, corruption, faults, hostile names; plus the library's handle (pause/resume).

use crate::support::cli;
use crate::support::olah;
use crate::support::python;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cli::{Run, hubble};
use fixture_hub::{Faults, FixtureHub, HubOptions, Repo, RepoFile};
use olah::{MirrorRepo, Olah};
use python::python;

const TINY: &str = "hubble-tests/tiny-model";

fn hub_env(hub: &FixtureHub) -> Vec<(&'static str, String)> {
    vec![("HF_ENDPOINT", hub.url())]
}

fn run(home: &Path, args: &[&str], env: &[(&'static str, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    hubble(home, args, &env)
}

fn repo_folder(home: &Path, id: &str) -> PathBuf {
    home.join("hub")
        .join(format!("models--{}", id.replace('/', "--")))
}

fn error_kind(run: &Run) -> String {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON error on stderr:\n{}\n{}", run.stdout, run.stderr));
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["error"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn download_writes_the_huggingface_layout_that_python_reads() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["download", TINY, "--json"], &hub_env(&hub))
        .ok()
        .json();
    let commit = out["commit"].as_str().unwrap().to_string();
    let folder = repo_folder(home.path(), TINY);
    let snapshot = folder.join("snapshots").join(&commit);
    assert_eq!(out["path"].as_str().unwrap(), snapshot.to_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(folder.join("refs/main")).unwrap(),
        commit
    );
    assert!(folder.join(format!("trees/{commit}.json")).is_file());
    let files = out["files"].as_array().unwrap();
    assert_eq!(files.len(), 7);
    for file in files {
        let path = file["path"].as_str().unwrap();
        let pointer = snapshot.join(path);
        let target = std::fs::read_link(&pointer).unwrap();
        assert!(target.is_relative(), "{target:?}");
        let blob = file["blob"].as_str().unwrap();
        let depth = path.split('/').count() + 1;
        assert_eq!(
            target,
            PathBuf::from(format!("{}blobs/{blob}", "../".repeat(depth)))
        );
        assert_eq!(
            std::fs::metadata(&pointer).unwrap().len(),
            file["size"].as_u64().unwrap()
        );
        assert!(file["downloaded"].as_bool().unwrap());
    }
    let model = files
        .iter()
        .find(|f| f["path"] == "model.safetensors")
        .unwrap();
    assert_eq!(
        model["blob"].as_str().unwrap().len(),
        64,
        "LFS blobs are named by sha256"
    );
    assert!(
        home.path()
            .join("hub/.locks/models--hubble-tests--tiny-model")
            .join(format!("{}.lock", model["blob"].as_str().unwrap()))
            .is_file()
    );
    assert!(
        !tree(&folder.join("blobs"))
            .iter()
            .any(|b| b.contains("incomplete"))
    );

    // A second run fetches nothing.
    hub.clear_requests();
    let again = run(home.path(), &["download", TINY, "--json"], &hub_env(&hub))
        .ok()
        .json();
    assert_eq!(again["downloaded_bytes"], 0);
    assert!(hub.requests().iter().all(|r| !r.path.contains("/resolve/")));

    // huggingface_hub reads it.
    let names = ["config.json", "onnx/model.onnx", "model.safetensors"];
    let mut args = vec![
        home.path().join("hub").to_str().unwrap().to_string(),
        TINY.to_string(),
    ];
    args.extend(names.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(text) = python("huggingface_hub", "check_cache.py", &args) {
        let py: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(py["warnings"], serde_json::json!([]), "{py}");
        let repo = &py["repos"][0];
        assert_eq!(repo["repo_id"], TINY);
        let total: u64 = files.iter().map(|f| f["size"].as_u64().unwrap()).sum();
        assert_eq!(repo["size_on_disk"], total);
        assert_eq!(repo["refs"], serde_json::json!(["main"]));
        assert_eq!(repo["revisions"][0]["commit_hash"], commit.as_str());
        for name in names {
            let got = &py["files"][name];
            assert_eq!(
                got["path"].as_str().unwrap(),
                snapshot.join(name).to_str().unwrap()
            );
            let ours = files.iter().find(|f| f["path"] == name).unwrap();
            assert_eq!(got["size"], ours["size"]);
        }
    }

    // Our own cache commands agree.
    let ls = run(home.path(), &["cache", "ls", "--json"], &[])
        .ok()
        .json();
    let total: u64 = files.iter().map(|f| f["size"].as_u64().unwrap()).sum();
    assert_eq!(ls["repos"][0]["repo_id"], TINY);
    assert_eq!(ls["repos"][0]["size_on_disk"], total);
    let verify = run(home.path(), &["cache", "verify", "--json"], &[])
        .ok()
        .json();
    assert_eq!(verify["checked"], 7);
    assert_eq!(verify["bad"], serde_json::json!([]));
}

#[test]
fn python_downloads_are_seen_by_cache_ls_and_offline_download() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("hub");
    let Some(snapshot) = python(
        "huggingface_hub",
        "snapshot_download.py",
        &[&hub.url(), cache.to_str().unwrap(), TINY],
    ) else {
        return;
    };
    let ls = run(home.path(), &["cache", "ls", "--json"], &[])
        .ok()
        .json();
    assert_eq!(ls["repos"][0]["repo_id"], TINY);
    assert_eq!(ls["repos"][0]["revisions"][0]["nb_files"], 7);

    // Offline: no socket is opened (the endpoint is a closed port) and the snapshot is complete.
    let offline = [
        ("HF_HUB_OFFLINE", "1".to_string()),
        ("HF_ENDPOINT", "http://127.0.0.1:9".into()),
    ];
    let out = run(home.path(), &["download", TINY, "--json"], &offline)
        .ok()
        .json();
    assert_eq!(out["path"].as_str().unwrap(), snapshot);
    assert_eq!(out["file_list_known"], true);
    assert_eq!(out["files"].as_array().unwrap().len(), 7);
    let plain = run(
        home.path(),
        &["--offline", "download", TINY, "config.json"],
        &[],
    )
    .ok();
    assert_eq!(plain.stdout.trim(), snapshot);

    // A missing file is named, with a non-zero status.
    std::fs::remove_file(Path::new(&snapshot).join("onnx/model.onnx")).unwrap();
    let missing = run(home.path(), &["download", TINY, "--json"], &offline);
    assert_eq!(missing.status, Some(5), "{}", missing.stderr);
    assert_eq!(error_kind(&missing), "incomplete");
    assert!(
        missing.stderr.contains("onnx/model.onnx"),
        "{}",
        missing.stderr
    );
    let other = run(home.path(), &["download", "org/absent", "--json"], &offline);
    assert_eq!(other.status, Some(5));
    assert_eq!(error_kind(&other), "not_cached");
}

#[test]
fn filters_single_files_revisions_and_missing_files() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let env = hub_env(&hub);
    let out = run(
        home.path(),
        &[
            "download",
            TINY,
            "--include",
            "*.json",
            "--include",
            "onnx/",
            "--exclude",
            "tokenizer*",
            "--json",
        ],
        &env,
    )
    .ok()
    .json();
    let mut paths: Vec<&str> = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["config.json", "onnx/model.onnx"]);
    let commit = out["commit"].as_str().unwrap().to_string();

    // One file, pinned to the commit: no ref is written for a commit.
    let home2 = tempfile::tempdir().unwrap();
    let pinned = run(
        home2.path(),
        &["download", TINY, "README.md", "--revision", &commit],
        &env,
    )
    .ok();
    let snapshot = repo_folder(home2.path(), TINY)
        .join("snapshots")
        .join(&commit);
    assert_eq!(pinned.stdout.trim(), snapshot.to_str().unwrap());
    assert_eq!(tree(&snapshot), ["README.md"]);
    assert!(!repo_folder(home2.path(), TINY).join("refs/main").exists());

    // A file that does not exist: exit 3 and a .no_exist marker, as huggingface_hub leaves.
    let absent = run(home.path(), &["download", TINY, "nope.bin", "--json"], &env);
    assert_eq!(absent.status, Some(3), "{}", absent.stderr);
    assert_eq!(error_kind(&absent), "entry_not_found");
    assert!(
        repo_folder(home.path(), TINY)
            .join(".no_exist")
            .join(&commit)
            .join("nope.bin")
            .is_file()
    );
}

fn big_repo(len: u64) -> Repo {
    Repo {
        files: vec![
            RepoFile::virtual_lfs("big.bin", len, 42),
            RepoFile::new("config.json", "{}\n"),
        ],
        ..Repo::new("hubble-tests/big")
    }
}

#[test]
fn kill_9_mid_file_then_rerun_refetches_at_most_one_chunk() {
    const LEN: u64 = 200_000_000;
    const CHUNK: u64 = 64 << 20;
    let hub = FixtureHub::start_with(HubOptions {
        repos: vec![big_repo(LEN)],
        throttle_bytes_per_sec: Some(30_000_000),
        ..HubOptions::default()
    });
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubble"))
        .args(["download", "hubble-tests/big", "--quiet"])
        .env("HF_HOME", home.path())
        .env("HF_ENDPOINT", hub.url())
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let began = Instant::now();
    while hub.bytes_served() < LEN / 2 {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the download did not progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "hubble ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first_run = hub.bytes_served();
    let blobs = repo_folder(home.path(), "hubble-tests/big").join("blobs");
    let partial = tree(&blobs);
    assert!(
        partial.iter().any(|f| f.ends_with(".incomplete")),
        "{partial:?}"
    );
    assert!(
        partial.iter().any(|f| f.ends_with(".incomplete.hubble")),
        "{partial:?}"
    );

    let out = run(
        home.path(),
        &["download", "hubble-tests/big", "--json"],
        &hub_env(&hub),
    )
    .ok()
    .json();
    // Everything served (file bodies and the small JSON answers) beyond one copy of the file.
    let refetched = hub.bytes_served().saturating_sub(LEN);
    assert!(
        refetched <= CHUNK,
        "re-fetched {refetched} bytes (first run served {first_run}), more than one {CHUNK}-byte chunk"
    );
    eprintln!("kill -9 test: first run served {first_run} bytes, re-fetched {refetched}");
    let big = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "big.bin")
        .unwrap()
        .clone();
    assert_eq!(big["size"], LEN);
    // The blob's name is the sha256 the hub announced; re-hash it independently.
    let verify = run(home.path(), &["cache", "verify", "--json"], &[])
        .ok()
        .json();
    assert_eq!(verify["bad"], serde_json::json!([]));
    assert_eq!(verify["checked"], 2);
    assert_eq!(tree(&blobs).len(), 2, "no partial files are left");
}

#[test]
fn a_flipped_byte_is_refused_and_nothing_is_committed() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    hub.set_faults(Faults {
        corrupt_body: true,
        ..Faults::default()
    });
    let failed = run(
        home.path(),
        &["download", TINY, "model.safetensors", "--json"],
        &hub_env(&hub),
    );
    assert_eq!(failed.status, Some(1), "{}", failed.stderr);
    assert_eq!(error_kind(&failed), "integrity");
    assert!(failed.stderr.contains("sha256"), "{}", failed.stderr);
    let folder = repo_folder(home.path(), TINY);
    assert_eq!(tree(&folder.join("blobs")), Vec::<String>::new());
    assert_eq!(tree(&folder.join("snapshots")), Vec::<String>::new());

    // Non-LFS files are checked too (git blob sha1 and size).
    let failed = run(
        home.path(),
        &["download", TINY, "config.json", "--json"],
        &hub_env(&hub),
    );
    assert_eq!(error_kind(&failed), "integrity");
    assert_eq!(tree(&folder.join("blobs")), Vec::<String>::new());

    hub.set_faults(Faults::default());
    run(
        home.path(),
        &["download", TINY, "model.safetensors"],
        &hub_env(&hub),
    )
    .ok();
}

#[test]
fn drops_stalls_rate_limits_and_server_errors_are_retried() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut env = hub_env(&hub);
    env.push(("HF_HUB_DOWNLOAD_TIMEOUT", "1".into()));
    let large = "hubble-tests/large-files";

    // Two bodies cut after 1 MB (connection closed), then one stalled: resumed with Range.
    hub.set_faults(Faults {
        cut_body_next: 2,
        cut_body_after: 1_000_000,
        ..Faults::default()
    });
    run(home.path(), &["download", large, "--streams", "1"], &env).ok();
    let ranges: Vec<String> = hub
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/resolve/"))
        .filter_map(|r| r.header("range").map(str::to_string))
        .collect();
    assert!(
        ranges.contains(&"bytes=1000000-6291462".to_string()),
        "{ranges:?}"
    );
    assert!(
        ranges.contains(&"bytes=2000000-6291462".to_string()),
        "{ranges:?}"
    );

    let home = tempfile::tempdir().unwrap();
    hub.set_faults(Faults {
        cut_body_next: 1,
        cut_body_after: 500_000,
        cut_body_stall: true,
        ..Faults::default()
    });
    let stalled = run(home.path(), &["download", large], &env).ok();
    assert!(
        stalled.elapsed >= Duration::from_secs(1),
        "the stall was waited out"
    );

    // 429 with Retry-After: 1 is honoured.
    let home = tempfile::tempdir().unwrap();
    hub.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let limited = run(home.path(), &["download", TINY, "config.json"], &env).ok();
    assert!(limited.elapsed >= Duration::from_secs(1));

    // A few 503s are retried.
    let home = tempfile::tempdir().unwrap();
    hub.set_faults(Faults {
        fail_next: 2,
        fail_status: 503,
        ..Faults::default()
    });
    run(home.path(), &["download", TINY, "config.json"], &env).ok();
    // (Endless 5xx end with exit 5 after the client's bounded retries: tests/cli/errors.rs.)
}

#[test]
fn hostile_file_names_are_refused() {
    let hub = FixtureHub::start_with(HubOptions {
        repos: Vec::new(),
        ..HubOptions::default()
    });
    for (n, name) in [
        "../../evil.txt",
        "/tmp/hubble-evil.txt",
        "a\\..\\..\\evil.txt",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("hubble-tests/evil-{n}");
        hub.add_repo(Repo {
            files: vec![
                RepoFile::new("ok.txt", "fine\n"),
                RepoFile::new(name, "evil\n"),
            ],
            ..Repo::new(&id)
        });
        let home = tempfile::tempdir().unwrap();
        let out = run(home.path(), &["download", &id, "--json"], &hub_env(&hub));
        assert_eq!(out.status, Some(1), "{name}: {}", out.stderr);
        assert_eq!(error_kind(&out), "unsafe_path");
        assert!(!home.path().join("evil.txt").exists());
        assert!(!home.path().join("hub/evil.txt").exists());
        assert!(hub.requests().iter().all(|r| !r.path.contains("/resolve/")));
    }
    assert!(!Path::new("/tmp/hubble-evil.txt").exists());
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &["download", TINY, "../../x", "--json"],
        &hub_env(&hub),
    );
    assert_eq!(error_kind(&out), "unsafe_path");
}

#[test]
fn a_server_that_ignores_range_restarts_the_file_from_zero() {
    let hub = FixtureHub::start_with(HubOptions {
        ignore_range: true,
        ..HubOptions::default()
    });
    let home = tempfile::tempdir().unwrap();
    let env = hub_env(&hub);
    // Learn the blob name, then plant a bogus partial download claiming 3 MB done.
    let listing = run(
        home.path(),
        &["download", "hubble-tests/large-files", "--json"],
        &env,
    )
    .ok()
    .json();
    let etag = listing["files"][0]["blob"].as_str().unwrap().to_string();
    run(
        home.path(),
        &["cache", "rm", "hubble-tests/large-files"],
        &[],
    )
    .ok();
    let blobs = repo_folder(home.path(), "hubble-tests/large-files").join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(
        blobs.join(format!("{etag}.incomplete")),
        vec![0xAB; 3_000_000],
    )
    .unwrap();
    std::fs::write(
        blobs.join(format!("{etag}.incomplete.hubble")),
        r#"{"size":6291463,"chunk":6291463,"done":[3000000]}"#,
    )
    .unwrap();
    hub.clear_requests();
    run(home.path(), &["download", "hubble-tests/large-files"], &env).ok();
    let gets: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/resolve/"))
        .collect();
    assert_eq!(gets.len(), 1, "the 200 answer is used, not re-requested");
    assert_eq!(gets[0].header("range"), Some("bytes=3000000-6291462"));
    assert_eq!(tree(&blobs), [etag]);
}

#[test]
fn downloads_from_olah_over_a_git_repo() {
    let weights: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let repos = [MirrorRepo {
        id: "acme/mirrored",
        files: vec![
            (
                "README.md",
                b"---\nlicense: mit\n---\n# Mirrored\n".to_vec(),
            ),
            ("config.json", b"{\"a\": 1}\n".to_vec()),
            ("model.safetensors", weights.clone()),
            ("sub/notes.txt", b"nested\n".to_vec()),
        ],
    }];
    let Some(olah) = Olah::start_for_test(&repos) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let env = vec![("HF_ENDPOINT", olah.url())];
    let out = run(
        home.path(),
        &["download", "acme/mirrored", "--json", "--chunk-mib", "1"],
        &env,
    )
    .ok()
    .json();
    assert_eq!(out["commit"], olah.commit_of("acme/mirrored").as_str());
    let snapshot = PathBuf::from(out["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(snapshot.join("model.safetensors")).unwrap(),
        weights
    );
    assert_eq!(
        std::fs::read_to_string(snapshot.join("sub/notes.txt")).unwrap(),
        "nested\n"
    );
    let verify = run(home.path(), &["cache", "verify", "--json"], &[])
        .ok()
        .json();
    assert_eq!(verify["bad"], serde_json::json!([]));
    assert_eq!(verify["checked"], 4);

    // Offline afterwards: complete from the cache alone.
    let offline = run(
        home.path(),
        &["--offline", "download", "acme/mirrored"],
        &[],
    )
    .ok();
    assert_eq!(offline.stdout.trim(), snapshot.to_str().unwrap());
}

#[test]
fn the_handle_pauses_resumes_and_reports_progress() {
    use hubble::download::{self, Control, DownloadEvent, DownloadOptions, DownloadSpec};
    const LEN: u64 = 20_000_000;
    let hub = FixtureHub::start_with(HubOptions {
        repos: vec![big_repo(LEN)],
        throttle_bytes_per_sec: Some(10_000_000),
        ..HubOptions::default()
    });
    let home = tempfile::tempdir().unwrap();
    let config = hubble::config::HubConfig::resolve(
        &TestEnv(home.path().to_path_buf(), hub.url()),
        &hubble::config::Overrides::default(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = hubble::hub::HubClient::new(config).unwrap();
    let spec = DownloadSpec::new(hubble::hub::RepoId::parse("hubble-tests/big").unwrap());
    let options = DownloadOptions {
        chunk_size: 4 << 20,
        progress_interval: Duration::from_millis(20),
        ..DownloadOptions::default()
    };
    let mut handle = download::start_on(runtime.handle(), client, spec, options);
    let mut events = Vec::new();
    let mut paused_at = None;
    let began = Instant::now();
    loop {
        assert!(began.elapsed() < Duration::from_secs(60));
        let Some(event) = handle.try_next_event() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        if let DownloadEvent::Progress(p) = &event
            && paused_at.is_none()
            && p.done_bytes > LEN / 4
        {
            handle.pause();
            assert_eq!(handle.control(), Control::Pause);
            std::thread::sleep(Duration::from_millis(400));
            let served = hub.bytes_served();
            std::thread::sleep(Duration::from_millis(400));
            paused_at = Some(served);
            assert!(
                hub.bytes_served() - served < 1_000_000,
                "transfers stop while paused"
            );
            handle.resume();
        }
        let finished = matches!(event, DownloadEvent::Finished(_));
        events.push(event);
        if finished {
            break;
        }
    }
    assert!(paused_at.is_some());
    assert!(matches!(events[0], DownloadEvent::Planned(ref p) if p.total_bytes == LEN + 3));
    assert!(events.iter().any(|e| matches!(e, DownloadEvent::Paused)));
    assert!(events.iter().any(|e| matches!(e, DownloadEvent::Resumed)));
    assert!(events.iter().any(
        |e| matches!(e, DownloadEvent::Progress(p) if p.bytes_per_sec > 0.0 && p.eta_secs.is_some())
    ));
    let Some(DownloadEvent::Finished(Ok(outcome))) = events.last() else {
        panic!("{:?}", events.last());
    };
    assert_eq!(outcome.files.len(), 2);
    assert!(
        hub.bytes_served() < LEN + 4 * 1_000_000,
        "resuming re-fetched little"
    );
    let result = runtime.block_on(handle.wait()).unwrap();
    assert_eq!(result.commit, outcome.commit);
}

#[test]
fn a_download_that_would_not_leave_the_headroom_asked_for_is_refused() {
    use hubble::download::{self, DownloadError, DownloadOptions, DownloadSpec};
    const KEEP: u64 = u64::MAX / 2;
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let config = hubble::config::HubConfig::resolve(
        &TestEnv(home.path().to_path_buf(), hub.url()),
        &hubble::config::Overrides::default(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = hubble::hub::HubClient::new(config).unwrap();
    let spec = DownloadSpec::new(hubble::hub::RepoId::parse(TINY).unwrap());
    let options = DownloadOptions {
        keep_free_bytes: KEEP,
        ..DownloadOptions::default()
    };
    let error = runtime
        .block_on(download::download(&client, spec.clone(), options))
        .unwrap_err();
    let DownloadError::NoSpace {
        needed,
        available,
        keep_free,
        ..
    } = &error
    else {
        panic!("expected a no-space refusal, got {error:?}");
    };
    assert_eq!(*keep_free, KEEP);
    assert!(*needed > 0 && *available < needed + KEEP);
    assert_eq!(error.kind(), "no_space");
    let message = error.to_string();
    assert!(message.contains("must stay free"), "{message}");
    assert!(message.contains("hubble cache prune"), "{message}");
    // Refused before anything was written: no blob, no snapshot, no ref.
    let folder = repo_folder(home.path(), TINY);
    assert!(tree(&folder.join("blobs")).is_empty());
    assert!(!folder.join("snapshots").exists());
    assert!(!folder.join("refs/main").exists());

    // Without the headroom the same download fits and completes.
    let outcome = runtime
        .block_on(download::download(
            &client,
            spec,
            DownloadOptions::default(),
        ))
        .unwrap();
    assert_eq!(outcome.files.len(), 7);
    assert!(folder.join("refs/main").is_file());
}

struct TestEnv(PathBuf, String);

impl hubble::config::Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "HF_HOME" => Some(self.0.to_string_lossy().into_owned()),
            "HF_ENDPOINT" => Some(self.1.clone()),
            _ => None,
        }
    }
    fn home(&self) -> Option<PathBuf> {
        Some(self.0.clone())
    }
}
