//! The desktop app driven through its AccessKit tree (egui_kittest, no GPU) against the fixture
//! hub. Results arrive from worker threads, so each test steps the harness until the expected
//! state appears, with a bounded wait.

use crate::support::ui;

use std::path::Path;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fixture_hub::FixtureHub;
use hubble::hub::RepoId;
use hubble::link::ModelLink;
use hubble::ui::{AppOptions, Inbox, Route};
use ui::{
    App, config, harness, harness_with, harness_with_options, has_label, has_label_containing,
    wait_for,
};

/// The ids of the result rows loaded so far (not only the visible ones).
fn result_ids(harness: &Harness<App>) -> Vec<String> {
    harness
        .state()
        .as_ref()
        .map(|app| app.search.rows.iter().map(|r| r.info.id.clone()).collect())
        .unwrap_or_default()
}

fn search_requests(hub: &FixtureHub) -> Vec<fixture_hub::RecordedRequest> {
    hub.requests()
        .into_iter()
        .filter(|r| r.path == "/api/models")
        .collect()
}

#[test]
fn typing_a_query_shows_matching_results() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    wait_for(&mut harness, "the first (trending) page", |h| {
        result_ids(h).len() >= 30
    });

    harness
        .get_by_label("Search models")
        .type_text("tiny-model");
    wait_for(&mut harness, "results for the query", |h| {
        let ids = result_ids(h);
        has_label(h, "hubble-tests/tiny-model") && ids.iter().all(|id| id.contains("tiny-model"))
    });
    let last = search_requests(&hub).pop().expect("a search request");
    assert_eq!(last.query_all("search"), ["tiny-model"]);
    assert!(last.query_all("expand[]").contains(&"downloads"));
    // Debounced: one request for the typed text, not one per keystroke.
    let typed = search_requests(&hub)
        .iter()
        .filter(|r| !r.query_all("search").is_empty())
        .count();
    assert_eq!(typed, 1, "{:?}", search_requests(&hub));
}

#[test]
fn picking_a_task_sends_pipeline_tag() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    wait_for(&mut harness, "the first page", |h| {
        result_ids(h).len() >= 30
    });
    harness.get_by_label("Natural Language Processing").click();
    wait_for(&mut harness, "the NLP task list", |h| {
        has_label(h, "Text Generation")
    });
    harness.get_by_label("Text Generation").click();
    wait_for(&mut harness, "a search with pipeline_tag", |_| {
        search_requests(&hub)
            .iter()
            .any(|r| r.query_all("pipeline_tag") == ["text-generation"])
    });
    wait_for(&mut harness, "only text-generation results", |h| {
        let app = h.state().as_ref().unwrap();
        !app.search.rows.is_empty()
            && app
                .search
                .rows
                .iter()
                .all(|r| r.info.pipeline_tag.as_deref() == Some("text-generation"))
    });
}

#[test]
fn opening_a_result_renders_its_card_and_license() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness
        .get_by_label("Search models")
        .type_text("tiny-model");
    wait_for(&mut harness, "the result", |h| {
        has_label(h, "hubble-tests/tiny-model")
            && result_ids(h).iter().all(|id| id.contains("tiny"))
    });
    harness.get_by_label("hubble-tests/tiny-model").click();
    wait_for(&mut harness, "the card's heading and license", |h| {
        has_label(h, "Tiny model") && has_label(h, "License: apache-2.0")
    });
    assert!(has_label(&harness, "A fixture model for Hubble's tests."));

    // The Files tab lists the tree with sizes; picking a file keeps the selection.
    harness.get_by_label("Files").click();
    wait_for(&mut harness, "the file tree", |h| {
        has_label(h, "config.json")
    });
    harness.get_by_label("config.json").click();
    harness.step();
    let repo = hubble::hub::RepoId::parse("hubble-tests/tiny-model").unwrap();
    let app = harness.state().as_ref().unwrap();
    let picked: Vec<&String> = app.selected_files(&repo).unwrap().iter().collect();
    assert_eq!(picked, ["config.json"]);

    // The Fit tab reads the weights' headers; Alt+Left goes back to the results.
    harness.get_by_label("Fit").click();
    wait_for(&mut harness, "the Fit tab's weights", |h| {
        has_label_containing(h, "4 parameters")
    });
    harness.key_press_modifiers(egui::Modifiers::ALT, egui::Key::ArrowLeft);
    wait_for(&mut harness, "the search view again", |h| {
        has_label(h, "Search models")
    });
}

#[test]
fn a_missing_repo_shows_the_clients_error() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config(&hub.url(), home.path(), false));
    harness.step();
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("nobody/missing-model");
    wait_for(&mut harness, "the not-found error", |h| {
        has_label_containing(h, "Repository nobody/missing-model was not found")
    });
    assert!(has_label(&harness, "Retry"));
}

/// Writes `org/name` into a hub cache the way huggingface_hub lays it out.
fn cache_repo(cache: &Path, id: &str, readme: &str) {
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let folder = cache.join(format!("models--{}", id.replace('/', "--")));
    let blob = folder.join("blobs/readme-etag");
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, readme).unwrap();
    let snapshot = folder.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::os::unix::fs::symlink("../../blobs/readme-etag", snapshot.join("README.md")).unwrap();
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), commit).unwrap();
}

#[test]
fn offline_mode_lists_and_opens_cached_models() {
    let home = tempfile::tempdir().unwrap();
    let config = config("http://127.0.0.1:9", home.path(), true);
    cache_repo(
        &config.hub_cache,
        "acme/cached-model",
        "---\nlicense: mit\npipeline_tag: fill-mask\n---\n# Cached card\n\nRead from disk.\n",
    );
    cache_repo(&config.hub_cache, "acme/other", "# Other\n");
    let mut harness = harness(config);
    wait_for(&mut harness, "the cached models and the banner", |h| {
        has_label(h, "acme/cached-model")
            && has_label(h, "acme/other")
            && has_label_containing(h, "Offline mode is on")
    });
    harness.get_by_label("acme/cached-model").click();
    wait_for(&mut harness, "the cached card", |h| {
        has_label(h, "Cached card") && has_label(h, "License: mit")
    });
}

#[test]
fn cjk_cards_render_without_missing_glyphs() {
    // Cards also carry emoji (🤗) that need a colour emoji font, which is optional; so missing
    // glyphs draw as boxes here, and the CJK text of each card is checked against the fonts
    // actually installed after rendering it. Needs a CJK system font (fonts-wqy-microhei or
    // fonts-noto-cjk, see .ci/run).
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let builder = Harness::builder().allow_missing_glyphs();
    let mut harness = harness_with(config(&hub.url(), home.path(), false), builder);
    harness.step();
    for (repo, text) in [
        ("KPFBERT/kpfbert", "사용방법"),
        ("Qwen/Qwen-72B", "介绍 (Introduction)"),
        ("aspire/acge_text_embedding", "建议使用的维度为1024或者1792"),
    ] {
        harness.state_mut().as_mut().unwrap().open_model(repo);
        wait_for(&mut harness, text, |h| has_label_containing(h, text));
        let font = egui::FontId::proportional(14.0);
        let drawable = harness.ctx.fonts_mut(|f| f.has_glyphs(&font, text));
        assert!(
            drawable,
            "no installed font draws {text:?} ({repo}): install fonts-wqy-microhei or fonts-noto-cjk"
        );
    }
}

/// A harness whose app was started with (or is later handed) the links in `links`.
fn harness_with_links(hub: &FixtureHub, home: &Path, links: Inbox) -> Harness<'static, App> {
    let options = AppOptions {
        links,
        ..AppOptions::default()
    };
    harness_with_options(config(&hub.url(), home, false), Harness::builder(), options)
}

fn on_model_page(harness: &Harness<App>, id: &str) -> bool {
    harness.state().as_ref().map(|app| app.route().clone())
        == Some(Route::Model(RepoId::parse(id).unwrap()))
}

#[test]
fn a_hubble_link_opens_the_model_page() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let link = ModelLink::parse("hubble://model/hubble-tests/tiny-model").unwrap();
    let mut harness = harness_with_links(&hub, home.path(), Inbox::with(Some(link)));
    wait_for(&mut harness, "the linked model's card", |h| {
        on_model_page(h, "hubble-tests/tiny-model") && has_label(h, "Tiny model")
    });
    assert!(has_label(&harness, "License: apache-2.0"));
}

#[test]
fn a_linked_revision_is_requested() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let link = ModelLink::parse("hubble://model/hubble-tests/tiny-model?revision=v1.0").unwrap();
    let mut harness = harness_with_links(&hub, home.path(), Inbox::with(Some(link)));
    wait_for(&mut harness, "the info request at v1.0", |_| {
        hub.requests()
            .iter()
            .any(|r| r.path == "/api/models/hubble-tests/tiny-model/revision/v1.0")
    });
    let repo = RepoId::parse("hubble-tests/tiny-model").unwrap();
    let app = harness.state().as_ref().unwrap();
    assert_eq!(app.page_revision(&repo), Some("v1.0"));
    assert!(on_model_page(&harness, "hubble-tests/tiny-model"));
}

#[cfg(unix)]
#[test]
fn a_second_launch_hands_its_link_to_the_running_window() {
    use hubble::ui::instance::{Claim, claim};

    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let socket = home.path().join("hubble.sock");
    // The first launch (no link) listens and opens the search.
    let Claim::Open(Some(listener)) = claim(&socket, None) else {
        panic!("the first launch should listen on {}", socket.display());
    };
    let links = Inbox::default();
    let inbox = links.clone();
    let _serving = listener.serve(move |link| inbox.push(link));
    let mut harness = harness_with_links(&hub, home.path(), links);
    harness.step();
    assert_eq!(harness.state().as_ref().unwrap().route(), &Route::Search);

    // The second launch hands its link over and would exit.
    let link = ModelLink::parse("hubble://model/hubble-tests/tiny-model").unwrap();
    assert!(matches!(claim(&socket, Some(&link)), Claim::HandedOver));
    wait_for(&mut harness, "the handed-over model's card", |h| {
        on_model_page(h, "hubble-tests/tiny-model") && has_label(h, "Tiny model")
    });
}

/// The Settings window writes the token file on its own thread: the message comes back and the
/// file is there, owner-only on Unix.
#[test]
fn the_token_file_is_saved_from_settings_off_the_ui_thread() {
    let home = tempfile::tempdir().unwrap();
    let config = config("http://127.0.0.1:9", home.path(), true);
    let token_path = config.token_path.clone();
    let mut harness = harness(config);
    harness.run_steps(2);
    harness.get_by_label("Settings").click();
    wait_for(&mut harness, "the Settings window", |h| {
        has_label(h, "New token")
    });
    harness.get_by_label("New token").focus();
    harness.step();
    harness.get_by_label("New token").type_text("hf_example");
    harness.run_steps(2);
    harness.get_by_label("Save token").click();
    wait_for(&mut harness, "the saved message", |h| {
        has_label_containing(h, "readable by you only")
    });
    assert_eq!(std::fs::read_to_string(&token_path).unwrap(), "hf_example");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
