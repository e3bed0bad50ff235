//! The desktop app in an egui_kittest harness, against a test hub with a throwaway `HF_HOME`,
//! and bounded waits for state that arrives from worker threads.
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use hubble::config::{Env, HubConfig, Overrides};
use hubble::ui::{AppOptions, HubbleApp};

/// How long a test waits for something to appear.
pub const WAIT: Duration = Duration::from_secs(10);

/// An environment with nothing set but `HF_HOME` (so no real token or cache is ever read).
struct TestEnv {
    home: PathBuf,
}

impl Env for TestEnv {
    fn var(&self, name: &str) -> Option<String> {
        (name == "HF_HOME").then(|| self.home.display().to_string())
    }
    fn home(&self) -> Option<PathBuf> {
        Some(self.home.clone())
    }
}

/// The configuration for `endpoint` with `HF_HOME` = `home`.
pub fn config(endpoint: &str, home: &Path, offline: bool) -> HubConfig {
    let overrides = Overrides {
        endpoint: Some(endpoint.to_string()),
        offline,
        ..Overrides::default()
    };
    HubConfig::resolve(
        &TestEnv {
            home: home.to_path_buf(),
        },
        &overrides,
    )
}

/// The harness's state: the app, built on the first frame.
pub type App = Option<HubbleApp>;

/// A harness showing the app; the app is built on the harness's own context on the first frame.
/// Any character no font can draw panics (egui_kittest's default).
pub fn harness(config: HubConfig) -> Harness<'static, App> {
    harness_with(config, Harness::builder())
}

/// [`harness`] from a builder with more settings.
pub fn harness_with(
    config: HubConfig,
    builder: egui_kittest::HarnessBuilder<App>,
) -> Harness<'static, App> {
    harness_with_options(config, builder, AppOptions::default())
}

/// [`harness_with`] with the app's options (e.g. a fixed system for the fit verdicts).
pub fn harness_with_options(
    config: HubConfig,
    builder: egui_kittest::HarnessBuilder<App>,
    options: AppOptions,
) -> Harness<'static, App> {
    builder
        .with_size(egui::vec2(1280.0, 900.0))
        .with_wait_for_pending_images(false)
        .with_context_setup(|ctx| {
            // What eframe installs in the real app: system fonts for scripts egui lacks (CJK).
            ctx.add_font_provider(Arc::new(
                egui_system_font_provider::SystemFontProvider::new(),
            ));
        })
        .build_ui_state(
            move |ui, app: &mut App| {
                app.get_or_insert_with(|| {
                    HubbleApp::new(ui.ctx(), config.clone(), options.clone())
                })
                .show(ui);
            },
            None,
        )
}

/// Steps until `done` holds, panicking with `what` after [`WAIT`].
pub fn wait_for(
    harness: &mut Harness<'static, App>,
    what: &str,
    done: impl Fn(&Harness<App>) -> bool,
) {
    wait_up_to(harness, WAIT, what, done);
}

/// Steps until `done` holds, panicking with `what` after `limit`.
pub fn wait_up_to(
    harness: &mut Harness<'static, App>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Harness<App>) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        harness.step();
        if done(harness) {
            // Every input on screen has an accessible name.
            harness.check_accessibility();
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out waiting for {what}; on screen: {:?}",
                labels(harness)
            );
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// Every label on screen, in tree order (what a timed-out wait shows).
pub fn labels(harness: &Harness<App>) -> Vec<String> {
    harness
        .root()
        .children_recursive()
        .filter_map(|node| node.accesskit_node().label())
        .collect()
}

/// The app inside the harness (built after the first step).
pub fn app<'a>(harness: &'a Harness<App>) -> &'a HubbleApp {
    harness
        .state()
        .as_ref()
        .expect("the app is built on the first frame")
}

/// Whether a node has exactly this label.
pub fn has_label(harness: &Harness<App>, label: &str) -> bool {
    harness.query_all_by_label(label).next().is_some()
}

/// Whether a node's label contains this text.
pub fn has_label_containing(harness: &Harness<App>, label: &str) -> bool {
    harness.query_all_by_label_contains(label).next().is_some()
}

/// A file dropped on the window, as the native integration hands it over.
#[derive(Debug)]
pub struct Dropped(pub PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops the file at `path` on the window (`RawInput::dropped_files`) and steps once.
pub fn drop_file(harness: &mut Harness<'static, App>, path: &Path) {
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(Dropped(path.to_path_buf())));
    harness.step();
}
