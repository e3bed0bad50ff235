//! The model page's revision picker (Card and Files follow it), its Community and Remote tabs,
//! the Datasets, Collections and Spaces views and the dataset preview's media cells, against
//! the fixture hub (and a loopback inference router).

use crate::support::python;
use crate::support::router;
use crate::support::ui as support;

use std::path::Path;

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use fixture_hub::{FixtureHub, Repo, RepoFile, RepoKind};
use support::{App, app, config, drop_file, harness, has_label, has_label_containing, wait_for};

/// Whether the revision menu is there and enabled (the refs have arrived).
fn picker_ready(h: &Harness<App>, current: &str) -> bool {
    h.query_by_label(&format!("Revision: {current}"))
        .is_some_and(|n| !n.accesskit_node().is_disabled())
}

#[test]
fn the_revision_picker_changes_the_card_and_the_files() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("hubble-tests/tiny-model");
    wait_for(&mut harness, "the main card and the refs", |h| {
        has_label(h, "Tiny model") && picker_ready(h, "main")
    });

    harness.get_by_label("Revision: main").click();
    wait_for(&mut harness, "the revision menu", |h| has_label(h, "dev"));
    harness.get_by_label("dev").click();
    wait_for(&mut harness, "the dev branch's card", |h| {
        has_label(h, "Tiny model (dev branch)") && has_label(h, "Revision: dev")
    });
    assert!(!has_label(&harness, "A fixture model for Hubble's tests."));

    harness.get_by_label("Files").click();
    wait_for(&mut harness, "the dev branch's files", |h| {
        has_label(h, "dev-notes.txt") && has_label(h, "model.safetensors")
    });

    harness.get_by_label("Revision: dev").click();
    wait_for(&mut harness, "the revision menu", |h| has_label(h, "v1.0"));
    harness.get_by_label("v1.0").click();
    wait_for(&mut harness, "the v1.0 tag's files", |h| {
        has_label(h, "config.json") && !has_label(h, "dev-notes.txt")
    });
    assert!(!has_label(&harness, "model.safetensors"));
    harness.get_by_label("Card").click();
    wait_for(&mut harness, "the v1.0 card", |h| {
        has_label(h, "Tiny model v1.0")
    });

    // The revision went with every request: info, tree-less info and card at v1.0.
    let asked: Vec<String> = hub.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        asked
            .iter()
            .any(|p| p == "/api/models/hubble-tests/tiny-model/revision/v1.0")
    );
    assert!(
        asked
            .iter()
            .any(|p| p == "/hubble-tests/tiny-model/resolve/v1.0/README.md")
    );
    let repo = hubble::hub::RepoId::parse("hubble-tests/tiny-model").unwrap();
    assert_eq!(app(&harness).model_revision(&repo), Some("v1.0"));
}

#[test]
fn the_community_tab_lists_discussions_and_spaces() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("hubble-tests/tiny-model");
    wait_for(&mut harness, "the card", |h| has_label(h, "Tiny model"));
    harness.get_by_label("Community").click();
    wait_for(&mut harness, "discussions and Spaces", |h| {
        has_label(h, "#1 Add a chat template") && has_label(h, "hubble-tests/tiny-chat")
    });
    assert!(has_label(&harness, "PR · open"));
    assert!(has_label(&harness, "Discussion · closed"));
    assert!(has_label(&harness, "PR · merged"));
    assert!(has_label(&harness, "1 open, 2 closed"));
    assert!(has_label(&harness, "hubble-tests/tiny-bench"));
    assert!(has_label(&harness, "gradio"));
    assert!(has_label_containing(&harness, "7"));
    assert!(!has_label(&harness, "hubble-tests/unrelated"));
}

#[test]
fn a_cards_dataset_link_opens_the_dataset_page_with_its_preview() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut config = config(&hub.url(), home.path(), false);
    config.viewer_endpoint = hub.url();
    let mut harness = harness(config);
    harness.step();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("hubble-tests/tiny-model");
    wait_for(&mut harness, "the refs", |h| picker_ready(h, "main"));
    harness.get_by_label("Revision: main").click();
    wait_for(&mut harness, "the revision menu", |h| has_label(h, "dev"));
    harness.get_by_label("dev").click();
    wait_for(&mut harness, "the dev card's dataset link", |h| {
        has_label(h, "dataset: hubble-tests/tiny-dataset")
    });
    harness
        .get_by_label("dataset: hubble-tests/tiny-dataset")
        .click();
    wait_for(&mut harness, "the dataset page and its card", |h| {
        has_label(h, "Tiny dataset") && has_label(h, "text-classification")
    });
    let repo = hubble::hub::RepoId::parse("hubble-tests/tiny-dataset").unwrap();
    assert_eq!(
        *app(&harness).route(),
        hubble::ui::Route::Dataset(repo.clone())
    );

    harness.get_by_label("Files").click();
    wait_for(&mut harness, "the dataset's files", |h| {
        has_label(h, "data/train.csv") && has_label(h, "49 B")
    });
    harness.get_by_label("Preview").click();
    wait_for(&mut harness, "the viewer's first rows", |h| {
        has_label(h, "text (string)") && has_label(h, "great film")
    });
    assert!(has_label(&harness, "default/train from the dataset viewer"));
    assert!(has_label(&harness, "label (int64)"));
}

#[test]
fn the_remote_tab_streams_the_routers_answer_into_the_chat() {
    let hub = FixtureHub::start();
    let (router, seen) = router::fake_router();
    let home = tempfile::tempdir().unwrap();
    let mut config = config(&hub.url(), home.path(), false);
    config.router_endpoint = router.clone();
    let mut harness = harness(config);
    harness.step();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("hubble-tests/tiny-model");
    wait_for(&mut harness, "the card", |h| has_label(h, "Tiny model"));
    harness.get_by_label("Remote").click();
    wait_for(&mut harness, "the remote label", |h| {
        has_label_containing(h, "Remote inference: runs on")
    });
    assert!(has_label_containing(&harness, &router));
    harness.get_by_label("Remote message").focus();
    harness.step();
    harness.get_by_label("Remote message").type_text("Hi there");
    harness.step();
    harness.get_by_label("Send remotely").click();
    wait_for(&mut harness, "the streamed answer", |h| {
        has_label(h, "Hello world") && has_label(h, "Send remotely")
    });
    assert!(has_label(&harness, "Hi there"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0]
            .headers
            .iter()
            .any(|h| h.starts_with("authorization:"))
    );
    assert_eq!(seen[0].body["messages"][0]["content"], "Hi there");
}

#[test]
fn the_datasets_view_searches_by_facet_and_opens_a_dataset() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness.get_by_label("Datasets").click();
    wait_for(&mut harness, "the first datasets", |h| {
        has_label(h, "hubble-tests/tiny-dataset")
    });
    harness.get_by_label("License").focus();
    harness.step();
    harness.get_by_label("License").type_text("gpl-3.0");
    harness.key_press(egui::Key::Enter);
    wait_for(&mut harness, "no match for gpl-3.0", |h| {
        has_label(h, "No dataset matches.")
    });
    let sent = hub.requests();
    let last = sent
        .iter()
        .rev()
        .find(|r| r.path == "/api/datasets")
        .unwrap();
    assert_eq!(last.query_all("filter"), ["license:gpl-3.0"]);

    harness.get_by_label("License").focus();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_by_label("License").type_text("mit");
    harness.key_press(egui::Key::Enter);
    wait_for(&mut harness, "the mit dataset", |h| {
        has_label(h, "hubble-tests/tiny-dataset")
    });
    harness.get_by_label("hubble-tests/tiny-dataset").click();
    wait_for(&mut harness, "the dataset page", |h| {
        has_label(h, "Tiny dataset")
    });
}

#[test]
fn the_collections_view_opens_a_collection_and_its_items() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness.get_by_label("Collections").click();
    wait_for(&mut harness, "the collections", |h| {
        has_label(h, "Tiny things") && has_label(h, "Big files")
    });
    harness.get_by_label("Tiny things").click();
    wait_for(&mut harness, "the collection's items", |h| {
        has_label(h, "Start here") && has_label(h, "hubble-tests/gated-model")
    });
    harness.get_by_label("hubble-tests/tiny-dataset").click();
    wait_for(&mut harness, "the dataset page", |h| {
        has_label(h, "Tiny dataset")
    });
    harness.key_press_modifiers(egui::Modifiers::ALT, egui::Key::ArrowLeft);
    wait_for(&mut harness, "the collection again", |h| {
        has_label(h, "hubble-tests/tiny-model")
    });
    harness.get_by_label("hubble-tests/tiny-model").click();
    wait_for(&mut harness, "the model page", |h| {
        has_label(h, "A fixture model for Hubble's tests.")
    });
}

/// A model whose info names `pipeline_tag`.
fn model_with_task(id: &str, pipeline_tag: &str) -> Repo {
    Repo {
        files: vec![RepoFile::new("README.md", "# A remote model\n")],
        info_extra: serde_json::json!({ "pipeline_tag": pipeline_tag }),
        ..Repo::new(id)
    }
}

/// Opens `id`'s Remote tab once its info (and so its task) is here.
fn open_remote_tab(harness: &mut Harness<'static, App>, id: &str, task: &str) {
    harness.state_mut().as_mut().unwrap().open_model(id);
    wait_for(harness, "the model's task", |h| has_label(h, task));
    harness.get_by_label("Remote").click();
    wait_for(harness, "the remote task", |h| {
        has_label(h, &format!("{task} (remote)"))
    });
}

#[test]
fn the_remote_tab_runs_a_classifier_and_reports_a_loading_model() {
    let hub = FixtureHub::start();
    hub.add_repo(model_with_task(
        "hubble-tests/remote-classifier",
        "text-classification",
    ));
    hub.add_repo(model_with_task(
        "hubble-tests/loading-model",
        "text-classification",
    ));
    let (router, seen) = router::fake_router();
    let home = tempfile::tempdir().unwrap();
    let mut config = config(&hub.url(), home.path(), false);
    config.router_endpoint = router.clone();
    let mut harness = harness(config);
    harness.step();
    open_remote_tab(
        &mut harness,
        "hubble-tests/remote-classifier",
        "Text Classification",
    );
    assert!(has_label_containing(&harness, "Remote inference: runs on"));
    assert!(has_label_containing(
        &harness,
        &format!("{}/hf-inference", router.trim_end_matches("/v1"))
    ));
    harness.get_by_label("Remote text").focus();
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_label("Remote text")
        .type_text("What a lovely day");
    harness.step();
    harness.get_by_label("Run remotely").click();
    wait_for(&mut harness, "the remote labels", |h| {
        has_label(h, "POSITIVE") && has_label(h, "NEGATIVE")
    });
    {
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].request_line,
            "POST /hf-inference/models/hubble-tests/remote-classifier HTTP/1.1"
        );
        assert_eq!(
            seen[0].body,
            serde_json::json!({ "inputs": "What a lovely day" })
        );
        assert_eq!(seen[0].header("authorization"), None);
    }

    open_remote_tab(
        &mut harness,
        "hubble-tests/loading-model",
        "Text Classification",
    );
    harness.get_by_label("Run remotely").click();
    wait_for(&mut harness, "the loading message", |h| {
        has_label_containing(
            h,
            "is still loading on the inference router (ready in about 20 s)",
        )
    });
}

#[test]
fn the_remote_tab_transcribes_a_dropped_audio_file_with_the_token() {
    let hub = FixtureHub::start();
    hub.add_repo(model_with_task(
        "hubble-tests/remote-whisper",
        "automatic-speech-recognition",
    ));
    let (router, seen) = router::fake_router();
    let home = tempfile::tempdir().unwrap();
    let mut config = config(&hub.url(), home.path(), false);
    config.router_endpoint = router;
    config.token = Some("hf_ui_remote".into());
    let mut harness = harness(config);
    harness.step();
    open_remote_tab(
        &mut harness,
        "hubble-tests/remote-whisper",
        "Automatic Speech Recognition",
    );
    assert!(has_label_containing(&harness, "with your token"));
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/speech.wav");
    drop_file(&mut harness, &audio);
    wait_for(&mut harness, "the picked file", |h| {
        has_label(h, &format!("Remote input: {}", audio.display()))
    });
    harness.get_by_label("Run remotely").click();
    wait_for(&mut harness, "the remote transcript", |h| {
        has_label(h, "Hello from the router.") && has_label(h, "0:00.40 → 0:01.50")
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].header("content-type"), Some("audio/wav"));
    assert_eq!(seen[0].header("authorization"), Some("bearer hf_ui_remote"));
    assert_eq!(seen[0].bytes, std::fs::read(&audio).unwrap());
}

/// A PNG of `width` × `height`.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(width, height, image::Rgb([20, 160, 90]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Steps until the thumbnail labelled `alt` has been decoded to `width` × `height` points
/// (while it loads it is a 24-point placeholder).
fn wait_for_thumbnail(harness: &mut Harness<'static, App>, alt: &str, width: f32, height: f32) {
    wait_for(harness, &format!("the decoded thumbnail {alt}"), |h| {
        h.query_by_role_and_label(Role::Image, alt)
            .is_some_and(|node| {
                let size = node.rect().size();
                (size.x - width).abs() < 0.5 && (size.y - height).abs() < 0.5
            })
    });
}

/// The app on `hub` (the viewer too) with `HF_HOME` = `home`, on dataset `id`'s Preview tab.
fn open_dataset_preview(hub: &FixtureHub, home: &Path, id: &str) -> Harness<'static, App> {
    let mut config = config(&hub.url(), home, false);
    config.viewer_endpoint = hub.url();
    let mut harness = harness(config);
    harness.step();
    harness.state_mut().as_mut().unwrap().open_dataset(id);
    // Once the details are in: their line no longer moves the tabs under the click.
    wait_for(&mut harness, "the dataset page and its details", |h| {
        has_label(h, "Preview") && !has_label(h, "loading the dataset's details…")
    });
    harness.get_by_label("Preview").click();
    harness
}

#[test]
fn the_viewer_preview_shows_image_thumbnails_and_audio_entries() {
    let hub = FixtureHub::start();
    let base = format!(
        "{}/datasets/hubble-tests/media-dataset/resolve/main",
        hub.url()
    );
    hub.add_repo(Repo {
        kind: RepoKind::Dataset,
        files: vec![
            RepoFile::new("README.md", "# Media dataset\n"),
            RepoFile::new("images/0.png", png(48, 24)),
            RepoFile::new("audio/0.wav", b"RIFF....WAVE".to_vec()),
        ],
        first_rows: Some(serde_json::json!({
            "features": [
                { "feature_idx": 0, "name": "image", "type": { "_type": "Image" } },
                { "feature_idx": 1, "name": "audio", "type": { "_type": "Audio", "sampling_rate": 16000 } },
                { "feature_idx": 2, "name": "caption", "type": { "dtype": "string", "_type": "Value" } },
            ],
            "rows": [{ "row_idx": 0, "truncated_cells": [], "row": {
                "image": { "src": format!("{base}/images/0.png"), "height": 24, "width": 48 },
                "audio": [{ "src": format!("{base}/audio/0.wav"), "type": "audio/wav" }],
                "caption": "a green block",
            }}],
        })),
        ..Repo::new("hubble-tests/media-dataset")
    });
    let home = tempfile::tempdir().unwrap();
    let mut harness = open_dataset_preview(&hub, home.path(), "hubble-tests/media-dataset");
    wait_for(&mut harness, "the viewer's first rows", |h| {
        has_label(h, "image (Image)") && has_label(h, "a green block")
    });
    assert!(has_label(&harness, "audio (Audio)"));
    assert!(has_label(&harness, "Open audio"));
    wait_for_thumbnail(&mut harness, "image, row 1", 48.0, 24.0);
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.path == "/datasets/hubble-tests/media-dataset/resolve/main/images/0.png")
    );
}

#[test]
fn a_cached_parquet_files_embedded_images_render_as_thumbnails() {
    let work = tempfile::tempdir().unwrap();
    let parquet = work.path().join("train.parquet");
    let Some(_) = python::python(
        "pyarrow",
        "make_media_parquet.py",
        &[parquet.to_str().unwrap()],
    ) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo = home.path().join("hub/datasets--hubble-tests--local-media");
    let data = repo.join("snapshots").join(commit).join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&parquet, data.join("train-00000-of-00001.parquet")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();

    // The viewer does not know the dataset (404), so the preview reads the cached file.
    let hub = FixtureHub::start();
    let mut harness = open_dataset_preview(&hub, home.path(), "hubble-tests/local-media");
    wait_for(&mut harness, "the file's first rows", |h| {
        has_label(h, "image (Image)") && has_label(h, "label (int64)")
    });
    assert!(has_label(
        &harness,
        "data/train-00000-of-00001.parquet from the downloaded file"
    ));
    assert!(has_label(&harness, "audio (Audio)"));
    wait_for_thumbnail(&mut harness, "image, row 1", 40.0, 20.0);
    wait_for_thumbnail(&mut harness, "image, row 2", 30.0, 60.0);
    // Audio: the length from the WAV header, and no pretence of a player.
    assert!(has_label_containing(&harness, "half.wav · 0.5 s"));
    assert!(has_label_containing(&harness, "longer.wav · 1.2 s"));
    assert!(has_label(&harness, "inside the data file"));
}

#[test]
fn the_spaces_view_searches_as_you_type() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness.get_by_label("Spaces").click();
    wait_for(&mut harness, "the most liked Spaces", |h| {
        has_label(h, "hubble-tests/tiny-chat") && has_label(h, "hubble-tests/unrelated")
    });
    assert!(has_label(&harness, "streamlit"));
    assert!(has_label(&harness, "♥ 7"));
    harness.get_by_label("Search Spaces").focus();
    harness.step();
    harness.get_by_label("Search Spaces").type_text("bench");
    wait_for(&mut harness, "only the matching Space", |h| {
        has_label(h, "hubble-tests/tiny-bench") && !has_label(h, "hubble-tests/tiny-chat")
    });
    let searches: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/spaces")
        .collect();
    // Typing five letters searched once, after the debounce.
    assert_eq!(searches.len(), 2, "{searches:?}");
    assert_eq!(searches[1].query_all("search"), ["bench"]);
    assert_eq!(searches[1].query_all("sort"), ["likes"]);
}
