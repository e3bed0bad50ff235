//! The Try tab's text-to-image view driven through its AccessKit tree (egui_kittest, no GPU):
//! the tiny SD 1.x pipeline cached from the fixtures is loaded, a prompt typed, Generate
//! pressed, and the picture appears with its settings and Save PNG…; an emptied prompt
//! disables Generate.

#[path = "support/ui.rs"]
mod ui;

use std::path::Path;
use std::time::Duration;

use egui_kittest::kittest::{NodeT, Queryable};
use ui::{config, harness, has_label_containing as has, wait_up_to};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_prompt_becomes_a_picture_with_its_settings() {
    let home = tempfile::tempdir().unwrap();
    let folder = home.path().join("hub/models--acme--tiny-sd");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/sd1");
    copy_tree(&source, &folder.join("snapshots").join(COMMIT));
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), COMMIT).unwrap();

    let wait = Duration::from_secs(60);
    let mut harness = harness(config("http://127.0.0.1:9", home.path(), true));
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .open_model("acme/tiny-sd");
    wait_up_to(&mut harness, wait, "the model page", |h| has(h, "Try"));
    harness.get_by_label("Try").click();
    wait_up_to(&mut harness, wait, "the Load button", |h| {
        has(h, "Load model")
    });
    harness.get_by_label("Load model").click();
    wait_up_to(&mut harness, wait, "the Generate button", |h| {
        has(h, "Generate")
    });

    let prompt = harness.get_by_label("Prompt:");
    prompt.focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness
        .get_by_label("Prompt:")
        .type_text("a red cat on the moon");
    harness.run();
    harness.get_by_label("Generate").click();
    wait_up_to(&mut harness, wait, "the picture", |h| has(h, "Save PNG"));
    assert!(
        has(&harness, "16 × 16 px"),
        "the settings line names the size"
    );
    assert!(
        has(&harness, "euler"),
        "and the scheduler that ran (PNDM → Euler)"
    );
    assert!(has(&harness, "Generated image"), "the picture is shown");

    harness.get_by_label("Prompt:").focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.key_press(egui::Key::Backspace);
    harness.run();
    assert!(
        harness
            .get_by_label("Generate")
            .accesskit_node()
            .is_disabled(),
        "no prompt, nothing to generate"
    );
}
