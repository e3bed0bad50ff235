//! The model page's revision picker (Card and Files follow it) and its Community tab
//! (discussions, PRs, Spaces using the model), against the fixture hub.

#[path = "support/router.rs"]
mod router;
#[path = "support/ui.rs"]
mod support;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use fixture_hub::FixtureHub;
use support::{App, app, config, harness, has_label, has_label_containing, wait_for};

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
