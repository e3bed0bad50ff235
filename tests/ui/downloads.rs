//! The app's Downloads panel, Download buttons and Cache page driven through the AccessKit tree
//! (egui_kittest, no GPU) against the fixture hub, with the files checked in the cache.

use crate::support::ui;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fixture_hub::{Faults, FixtureHub, HubOptions, Repo, RepoFile};
use hubble::download::{DownloadQueue, DownloadSpec, QueueStatus};
use hubble::hub::RepoId;
use hubble::ui::RowState;
use ui::{App, app, config, harness, has_label, has_label_containing, wait_for, wait_up_to};

const TINY: &str = "hubble-tests/tiny-model";
const BIG: &str = "hubble-tests/big";

fn repo_folder(home: &Path, id: &str) -> PathBuf {
    home.join("hub")
        .join(format!("models--{}", id.replace('/', "--")))
}

/// A hub serving one throttled 20 MB file (+ a small one).
fn throttled_hub(len: u64, bytes_per_sec: u64) -> FixtureHub {
    FixtureHub::start_with(HubOptions {
        repos: vec![Repo {
            files: vec![
                RepoFile::virtual_lfs("big.bin", len, 42),
                RepoFile::new("config.json", "{}\n"),
            ],
            ..Repo::new(BIG)
        }],
        throttle_bytes_per_sec: Some(bytes_per_sec),
        ..HubOptions::default()
    })
}

/// Opens `repo`'s Files tab and waits for `file` to be listed.
fn open_files_tab(harness: &mut Harness<'static, App>, repo: &str, file: &str) {
    harness.step();
    harness.state_mut().as_mut().unwrap().open_model(repo);
    wait_for(harness, "the model page", |h| has_label(h, "Files"));
    harness.get_by_label("Files").click();
    wait_for(harness, "the file tree", |h| has_label(h, file));
}

/// The state of the only (or last) download row.
fn last_state(harness: &Harness<App>) -> Option<RowState> {
    app(harness)
        .downloads()
        .rows()
        .last()
        .map(|r| r.state.clone())
}

fn queue_status(home: &Path) -> Vec<QueueStatus> {
    DownloadQueue::new(home)
        .entries()
        .iter()
        .map(|e| e.status)
        .collect()
}

/// Steps the harness until the queue file shows `status` for every entry.
fn wait_for_queue(harness: &mut Harness<'static, App>, home: &Path, status: QueueStatus) {
    let home = home.to_path_buf();
    wait_for(
        harness,
        &format!("downloads.json to say {status:?}"),
        move |_| {
            let statuses = queue_status(&home);
            !statuses.is_empty() && statuses.iter().all(|s| *s == status)
        },
    );
}

/// How soon the last frame asked to be repainted.
fn repaint_delay(harness: &Harness<App>) -> Duration {
    harness.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay
}

fn done_path(harness: &Harness<App>) -> Option<PathBuf> {
    match last_state(harness) {
        Some(RowState::Done(path)) => Some(path),
        _ => None,
    }
}

#[test]
fn download_buttons_fetch_the_picked_files_then_all_into_the_cache_layout() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    open_files_tab(&mut harness, TINY, "config.json");

    harness.get_by_label("config.json").click();
    wait_for(&mut harness, "the picked-files button", |h| {
        has_label(h, "Download 1 picked file")
    });
    harness.get_by_label("Download 1 picked file").click();
    wait_for(&mut harness, "the finished download in the panel", |h| {
        done_path(h).is_some() && has_label(h, "Finished")
    });
    let snapshot = done_path(&harness).unwrap();
    let folder = repo_folder(home.path(), TINY);
    let commit = std::fs::read_to_string(folder.join("refs/main")).unwrap();
    assert_eq!(snapshot, folder.join("snapshots").join(&commit));
    // Only the picked file, as a relative link into blobs/.
    let names: Vec<String> = std::fs::read_dir(&snapshot)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["config.json"]);
    let link = std::fs::read_link(snapshot.join("config.json")).unwrap();
    assert!(link.starts_with("../../blobs"), "{}", link.display());
    assert!(has_label(&harness, &snapshot.display().to_string()));
    assert!(has_label(&harness, "Open folder"));
    wait_for_queue(&mut harness, home.path(), QueueStatus::Done);

    // "Download all" fetches the rest of the repository.
    harness.get_by_label("Download all").click();
    wait_for(&mut harness, "the second download", |h| {
        app(h).downloads().rows().len() == 2 && done_path(h).is_some()
    });
    assert_eq!(std::fs::read_dir(&snapshot).unwrap().count(), 7);
    assert!(snapshot.join("README.md").is_file());
    let row = app(&harness).downloads().rows().last().unwrap();
    assert_eq!(row.files.len(), 7);
    assert!(row.files.iter().all(|f| f.done_bytes == f.size));

    // Clear finished empties the panel and the queue file.
    harness.get_by_label("Clear finished").click();
    wait_for(&mut harness, "an empty panel", |h| {
        app(h).downloads().rows().is_empty() && has_label_containing(h, "No downloads")
    });
    let home_path = home.path().to_path_buf();
    wait_for(&mut harness, "an empty queue file", move |_| {
        DownloadQueue::new(&home_path).entries().is_empty()
    });
}

#[test]
fn a_paused_download_stops_transferring_and_resumes_to_the_end() {
    const LEN: u64 = 20_000_000;
    let hub = throttled_hub(LEN, 10_000_000);
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    open_files_tab(&mut harness, BIG, "big.bin");
    harness.get_by_label("Download all").click();
    wait_up_to(&mut harness, Duration::from_secs(30), "a quarter", |h| {
        let row = app(h).downloads().rows().last();
        row.and_then(|r| r.bytes())
            .is_some_and(|(done, _)| done > LEN / 4)
    });
    assert!(
        has_label_containing(&harness, " left"),
        "rate and ETA shown"
    );
    assert!(
        repaint_delay(&harness) <= Duration::from_millis(250),
        "the UI repaints while bytes flow"
    );
    harness.get_by_label("Pause").click();
    wait_for(&mut harness, "the paused row", |h| {
        last_state(h) == Some(RowState::Paused) && has_label(h, "Resume")
    });
    // Once hover animations settle, nothing asks for frames.
    harness.run();
    assert!(
        repaint_delay(&harness) > Duration::from_secs(60),
        "no repaints while paused: {:?}",
        repaint_delay(&harness)
    );
    wait_for_queue(&mut harness, home.path(), QueueStatus::Paused);
    let served = hub.bytes_served();
    let began = Instant::now();
    while began.elapsed() < Duration::from_millis(500) {
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        hub.bytes_served() - served < 1_000_000,
        "transfers stop while paused"
    );
    harness.get_by_label("Resume").click();
    wait_up_to(&mut harness, Duration::from_secs(60), "the end", |h| {
        done_path(h).is_some()
    });
    let snapshot = done_path(&harness).unwrap();
    assert_eq!(
        std::fs::metadata(snapshot.join("big.bin")).unwrap().len(),
        LEN
    );
    assert!(
        hub.bytes_served() < LEN + 4_000_000,
        "resuming re-fetched little"
    );
    wait_for_queue(&mut harness, home.path(), QueueStatus::Done);
}

#[test]
fn a_cancelled_download_leaves_no_snapshot_entry() {
    let hub = throttled_hub(50_000_000, 2_000_000);
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    open_files_tab(&mut harness, BIG, "big.bin");
    harness.get_by_label("big.bin").click();
    wait_for(&mut harness, "the button", |h| {
        has_label(h, "Download 1 picked file")
    });
    harness.get_by_label("Download 1 picked file").click();
    wait_for(&mut harness, "bytes flowing", |h| {
        let row = app(h).downloads().rows().last();
        row.and_then(|r| r.bytes())
            .is_some_and(|(done, _)| done > 0)
    });
    harness.get_by_label("Cancel").click();
    wait_for(&mut harness, "the cancelled row", |h| {
        last_state(h) == Some(RowState::Cancelled) && has_label(h, "Retry")
    });
    wait_for_queue(&mut harness, home.path(), QueueStatus::Cancelled);
    let folder = repo_folder(home.path(), BIG);
    let commit = app(&harness).downloads().rows()[0].commit.clone().unwrap();
    let snapshot = folder.join("snapshots").join(commit);
    assert!(
        std::fs::read_dir(&snapshot).is_ok_and(|mut d| d.next().is_none()),
        "nothing registered in {}",
        snapshot.display()
    );
    // No finished blob either: only the partial file that a later download resumes.
    let blobs: Vec<String> = std::fs::read_dir(folder.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(blobs.iter().all(|b| b.contains(".incomplete")), "{blobs:?}");
}

#[test]
fn a_failed_download_shows_the_engines_message_and_retry_finishes_it() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    open_files_tab(&mut harness, TINY, "config.json");
    // Every request refused: the engine's first one (the file listing) fails for good.
    hub.set_faults(Faults {
        fail_next: 1000,
        fail_status: 403,
        ..Faults::default()
    });
    harness.get_by_label("Download all").click();
    wait_for(&mut harness, "the failed row", |h| {
        matches!(last_state(h), Some(RowState::Failed(_))) && has_label(h, "Retry")
    });
    let Some(RowState::Failed(message)) = last_state(&harness) else {
        unreachable!()
    };
    assert!(message.starts_with("Access denied"), "{message}");
    // The panel and a toast both show it.
    wait_for(&mut harness, "the message in the panel and a toast", |h| {
        h.query_all_by_label(&message).count() == 2
    });
    let home_path = home.path().to_path_buf();
    wait_for(&mut harness, "the error in downloads.json", move |_| {
        DownloadQueue::new(&home_path)
            .entries()
            .first()
            .is_some_and(|e| e.status == QueueStatus::Failed && e.error.is_some())
    });

    hub.set_faults(Faults::default());
    harness.get_by_label("Retry").click();
    wait_for(&mut harness, "the retried download", |h| {
        done_path(h).is_some()
    });
    assert!(done_path(&harness).unwrap().join("config.json").is_file());
}

#[test]
fn an_interrupted_download_in_the_queue_file_resumes_at_start() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let queue = DownloadQueue::new(home.path());
    let mut spec = DownloadSpec::new(RepoId::parse(TINY).unwrap());
    spec.files = vec!["README.md".into(), "config.json".into()];
    let id = queue.add(spec).unwrap();
    queue.set_status(id, QueueStatus::Running, None).unwrap();

    let mut harness = harness(config(&hub.url(), home.path(), false));
    wait_for(&mut harness, "the resumed download", |h| {
        h.state().is_some() && done_path(h).is_some() && has_label(h, "Finished")
    });
    let snapshot = done_path(&harness).unwrap();
    assert!(snapshot.join("README.md").is_file());
    assert!(snapshot.join("config.json").is_file());
    assert_eq!(std::fs::read_dir(&snapshot).unwrap().count(), 2);
    wait_for_queue(&mut harness, home.path(), QueueStatus::Done);
    assert_eq!(DownloadQueue::new(home.path()).entries()[0].id, id);
}

#[test]
fn offline_the_queue_file_entries_wait_with_the_reason() {
    let home = tempfile::tempdir().unwrap();
    let queue = DownloadQueue::new(home.path());
    let id = queue
        .add(DownloadSpec::new(RepoId::parse(TINY).unwrap()))
        .unwrap();
    queue.set_status(id, QueueStatus::Running, None).unwrap();

    let mut harness = harness(config("http://127.0.0.1:9", home.path(), true));
    wait_for(&mut harness, "the waiting row", |h| {
        h.state().is_some()
            && matches!(last_state(h), Some(RowState::Queued(_)))
            && has_label_containing(h, "was not restarted")
            && has_label(h, "Start")
    });
    assert!(!repo_folder(home.path(), TINY).exists());
    assert_eq!(queue_status(home.path()), [QueueStatus::Running]);
}

/// Downloads the tiny model with the library (not through the app).
fn download_tiny(hub: &FixtureHub, home: &Path) {
    let config = config(&hub.url(), home, false);
    let client = hubble::hub::HubClient::new(config).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let spec = DownloadSpec::new(RepoId::parse(TINY).unwrap());
    runtime
        .block_on(hubble::download::download(
            &client,
            spec,
            hubble::download::DownloadOptions::default(),
        ))
        .unwrap();
}

#[test]
fn the_cache_page_lists_verifies_and_deletes_a_downloaded_repo() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    download_tiny(&hub, home.path());
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::C,
    );
    wait_for(&mut harness, "the cached repo", |h| {
        app(h).cache_report().is_some() && has_label(h, TINY)
    });
    assert_eq!(*app(&harness).route(), hubble::ui::Route::Cache);
    let report = app(&harness).cache_report().unwrap().clone();
    assert_eq!(report.repos.len(), 1);
    let repo = &report.repos[0];
    assert_eq!(repo.nb_files, 7);
    assert!(repo.size_on_disk > 0);
    let size = hubble::format::bytes(repo.size_on_disk);
    assert!(has_label(&harness, &format!("1 repo, {size} on disk")));
    assert!(has_label_containing(
        &harness,
        &format!("{size}  ·  7 files")
    ));
    assert!(has_label_containing(&harness, "main  "));

    harness.get_by_label("Verify").click();
    wait_for(&mut harness, "the verification", |h| {
        has_label_containing(h, "blobs") && has_label_containing(h, "match their hashes")
    });

    harness.get_by_label("Delete").click();
    wait_for(&mut harness, "the confirmation", |h| {
        has_label(h, "Yes, delete")
    });
    assert!(
        repo_folder(home.path(), TINY).exists(),
        "nothing deleted before confirming"
    );
    harness.get_by_label("Yes, delete").click();
    wait_for(&mut harness, "the empty cache", |h| {
        has_label_containing(h, "The cache is empty")
    });
    assert!(!repo_folder(home.path(), TINY).exists());
}

#[test]
fn clicking_a_cached_repo_opens_its_model_page() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    download_tiny(&hub, home.path());
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness.get_by_label("Cache").click();
    wait_for(&mut harness, "the cached repo", |h| has_label(h, TINY));
    harness.get_by_label(TINY).click();
    wait_for(&mut harness, "the model page", |h| {
        matches!(app(h).route(), hubble::ui::Route::Model(r) if r.as_str() == TINY)
            && has_label(h, "Tiny model")
    });
}

#[test]
fn prune_on_the_cache_page_removes_a_detached_revision() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    download_tiny(&hub, home.path());
    // A revision no ref points at, with a blob of its own.
    let folder = repo_folder(home.path(), TINY);
    let detached = folder.join("snapshots/0000000000000000000000000000000000000001");
    std::fs::create_dir_all(&detached).unwrap();
    std::fs::write(folder.join("blobs/old-blob"), "old\n").unwrap();
    std::os::unix::fs::symlink("../../blobs/old-blob", detached.join("old.txt")).unwrap();

    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness.get_by_label("Cache").click();
    wait_for(&mut harness, "both revisions", |h| {
        app(h)
            .cache_report()
            .is_some_and(|r| r.repos.len() == 1 && r.repos[0].revisions.len() == 2)
            && has_label_containing(h, "(detached)")
    });
    harness.get_by_label("Prune").click();
    wait_for(&mut harness, "the confirmation", |h| {
        has_label(h, "Yes, prune")
    });
    harness.get_by_label("Yes, prune").click();
    wait_for(&mut harness, "one revision left", |h| {
        app(h)
            .cache_report()
            .is_some_and(|r| r.repos.len() == 1 && r.repos[0].revisions.len() == 1)
            && !has_label_containing(h, "(detached)")
    });
    assert!(!detached.exists());
    assert!(!folder.join("blobs/old-blob").exists());
    assert!(folder.join("refs/main").is_file());
}
