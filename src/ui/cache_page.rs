//! The Cache page (top bar button, Ctrl+Shift+C): the repos in the Hugging Face cache as
//! [`manage::scan`] sees them (revisions with refs and short commits, size on disk, files,
//! last modified and accessed, the total), with Delete per repo or revision (confirmed
//! first), Verify (re-hash) and Prune. Every scan, delete and hash runs on the worker runtime
//! through [`Task`]; the page only draws and polls.

use std::collections::HashMap;
use std::path::PathBuf;

use eframe::egui::{self, RichText};

use super::toasts::Toasts;
use crate::cache::manage::{self, CacheError, CacheReport, Removal, RepoReport, VerifyReport};
use crate::format::{bytes, relative_time};
use crate::hub::RepoId;
use crate::ui::runtime::background::Background;

/// What needs confirming before it deletes anything.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Confirm {
    /// A whole repo.
    Repo(String),
    /// One revision (repo id, commit).
    Revision(String, String),
    /// Detached revisions and unreferenced blobs of every repo.
    Prune,
}

/// The result of a verification, or the task computing it.
enum Verify {
    Running(Background<Result<VerifyReport, CacheError>>),
    Done { text: String, ok: bool },
}

/// What the page asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheAction {
    /// Open this model's page.
    OpenModel(String),
    /// Open the Compare view with this model added.
    Compare(RepoId),
}

/// The Cache page's state.
#[derive(Default)]
pub struct CachePage {
    scan: Option<Background<CacheReport>>,
    report: Option<CacheReport>,
    removal: Option<Background<Result<Removal, CacheError>>>,
    confirm: Option<Confirm>,
    /// Per repo id; `""` is the whole cache.
    verify: HashMap<String, Verify>,
}

impl CachePage {
    /// The last scan, if one finished.
    pub fn report(&self) -> Option<&CacheReport> {
        self.report.as_ref()
    }

    /// Scans the cache again (in the background).
    pub fn refresh(
        &mut self,
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        root: PathBuf,
    ) {
        self.scan = Some(Background::spawn(runtime, ctx, move || manage::scan(&root)));
    }

    fn poll(
        &mut self,
        runtime: &tokio::runtime::Handle,
        ctx: &egui::Context,
        root: &std::path::Path,
        toasts: &mut Toasts,
    ) {
        if let Some(result) = self.scan.as_ref().and_then(Background::poll) {
            self.scan = None;
            match result {
                Ok(report) => self.report = Some(report),
                Err(message) => toasts.error(message),
            }
        }
        if let Some(result) = self.removal.as_ref().and_then(Background::poll) {
            self.removal = None;
            match result {
                Ok(Ok(removal)) => toasts.info(format!(
                    "Deleted {} revision(s) and {} blob(s), freed {}.",
                    removal.revisions.len(),
                    removal.blobs,
                    bytes(removal.freed_bytes)
                )),
                Ok(Err(error)) => toasts.error(error.to_string()),
                Err(message) => toasts.error(message),
            }
            self.refresh(runtime, ctx, root.to_path_buf());
        }
        for verify in self.verify.values_mut() {
            let Verify::Running(task) = verify else {
                continue;
            };
            if let Some(result) = task.poll() {
                *verify = match result {
                    Ok(Ok(report)) => verify_summary(&report),
                    Ok(Err(error)) => Verify::Done {
                        text: error.to_string(),
                        ok: false,
                    },
                    Err(message) => Verify::Done {
                        text: message,
                        ok: false,
                    },
                };
            }
        }
    }

    /// Draws the page; `root` is the hub cache folder.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        runtime: &tokio::runtime::Handle,
        root: &std::path::Path,
        toasts: &mut Toasts,
    ) -> Option<CacheAction> {
        let ctx = ui.ctx().clone();
        if self.report.is_none() && self.scan.is_none() {
            self.refresh(runtime, &ctx, root.to_path_buf());
        }
        self.poll(runtime, &ctx, root, toasts);
        let mut action = None;
        let busy = self.scan.is_some() || self.removal.is_some();
        ui.horizontal(|ui| {
            ui.heading("Cache");
            ui.label(RichText::new(root.display().to_string()).monospace().weak());
            if busy {
                ui.spinner();
            }
        });
        ui.horizontal(|ui| {
            if let Some(report) = &self.report {
                let n = report.repos.len();
                ui.strong(format!(
                    "{n} {}, {} on disk",
                    if n == 1 { "repo" } else { "repos" },
                    bytes(report.size_on_disk)
                ));
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Refresh"))
                .clicked()
            {
                self.refresh(runtime, &ctx, root.to_path_buf());
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Prune"))
                .on_hover_text("Delete detached revisions and blobs no revision uses")
                .clicked()
            {
                self.confirm = Some(Confirm::Prune);
            }
            self.verify_button(ui, runtime, root, "", "Verify all");
        });
        if let Some(report) = &self.report {
            for warning in &report.warnings {
                ui.label(RichText::new(warning).color(ui.visuals().warn_fg_color));
            }
        }
        ui.separator();
        let repos = self.report.as_ref().map(|r| r.repos.clone());
        match repos {
            None => {
                ui.spinner();
            }
            Some(repos) if repos.is_empty() => {
                ui.label("The cache is empty. Downloads from a model's Files tab land here.");
            }
            Some(repos) => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        for repo in &repos {
                            egui::Frame::group(ui.style()).show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                if let Some(open) = self.repo_ui(ui, repo, runtime, root, busy) {
                                    action = Some(open);
                                }
                            });
                        }
                    });
            }
        }
        self.confirm_dialog(&ctx, runtime, root);
        action
    }

    fn repo_ui(
        &mut self,
        ui: &mut egui::Ui,
        repo: &RepoReport,
        runtime: &tokio::runtime::Handle,
        root: &std::path::Path,
        busy: bool,
    ) -> Option<CacheAction> {
        let now = chrono::Utc::now();
        let when = |t: &Option<String>| {
            t.as_deref()
                .map_or_else(|| "?".to_string(), |t| relative_time(t, now))
        };
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            if repo.repo_type == "model" {
                if ui
                    .link(RichText::new(&repo.repo_id).strong())
                    .on_hover_text("Open the model page")
                    .clicked()
                {
                    action = Some(CacheAction::OpenModel(repo.repo_id.clone()));
                }
            } else {
                ui.strong(format!("{} ({})", repo.repo_id, repo.repo_type));
            }
            ui.label(format!(
                "{}  ·  {} files  ·  modified {}  ·  accessed {}",
                bytes(repo.size_on_disk),
                repo.nb_files,
                when(&repo.last_modified),
                when(&repo.last_accessed)
            ));
            if repo.incomplete_bytes > 0 {
                ui.label(
                    RichText::new(format!("+{} partial", bytes(repo.incomplete_bytes))).weak(),
                )
                .on_hover_text("Bytes of interrupted downloads; downloading again resumes them");
            }
        });
        ui.horizontal(|ui| {
            if repo.repo_type == "model"
                && let Ok(id) = RepoId::parse(&repo.repo_id)
                && ui
                    .button("Add to Compare")
                    .on_hover_text("Compare it with other cached models, side by side")
                    .clicked()
            {
                action = Some(CacheAction::Compare(id));
            }
            self.verify_button(ui, runtime, root, &repo.repo_id, "Verify");
            if ui
                .add_enabled(!busy, egui::Button::new("Delete"))
                .on_hover_text(format!("Delete {} from the cache", repo.repo_id))
                .clicked()
            {
                self.confirm = Some(Confirm::Repo(repo.repo_id.clone()));
            }
        });
        if let Some(Verify::Done { text, ok }) = self.verify.get(&repo.repo_id) {
            verify_label(ui, text, *ok);
        }
        for revision in &repo.revisions {
            ui.horizontal(|ui| {
                let refs = if revision.refs.is_empty() {
                    "(detached)".to_string()
                } else {
                    revision.refs.join(", ")
                };
                let short: String = revision.commit.chars().take(7).collect();
                ui.label(format!(
                    "    {refs}  {short}  ·  {}  ·  {} files  ·  modified {}",
                    bytes(revision.size_on_disk),
                    revision.nb_files,
                    when(&revision.last_modified)
                ));
                if ui
                    .add_enabled(!busy, egui::Button::new("Delete revision"))
                    .on_hover_text(format!("Delete {}@{short}", repo.repo_id))
                    .clicked()
                {
                    self.confirm = Some(Confirm::Revision(
                        repo.repo_id.clone(),
                        revision.commit.clone(),
                    ));
                }
            });
        }
        action
    }

    /// A Verify button for `repo_id` (`""`: every repo) and its running state.
    fn verify_button(
        &mut self,
        ui: &mut egui::Ui,
        runtime: &tokio::runtime::Handle,
        root: &std::path::Path,
        repo_id: &str,
        label: &str,
    ) {
        let running = matches!(self.verify.get(repo_id), Some(Verify::Running(_)));
        if running {
            ui.spinner();
        }
        if ui
            .add_enabled(!running, egui::Button::new(label))
            .on_hover_text("Re-hash the blobs and compare them with their names")
            .clicked()
        {
            let root = root.to_path_buf();
            let only: Vec<String> = [repo_id.to_string()]
                .into_iter()
                .filter(|id| !id.is_empty())
                .collect();
            let task = Background::spawn(runtime, ui.ctx(), move || manage::verify(&root, &only));
            self.verify
                .insert(repo_id.to_string(), Verify::Running(task));
        }
        if repo_id.is_empty()
            && let Some(Verify::Done { text, ok }) = self.verify.get(repo_id)
        {
            verify_label(ui, text, *ok);
        }
    }

    fn confirm_dialog(
        &mut self,
        ctx: &egui::Context,
        runtime: &tokio::runtime::Handle,
        root: &std::path::Path,
    ) {
        let Some(confirm) = self.confirm.clone() else {
            return;
        };
        let (question, button) = match &confirm {
            Confirm::Repo(id) => (
                format!("Delete {id} from the cache? Every revision and blob of it goes."),
                "Delete",
            ),
            Confirm::Revision(id, commit) => (
                format!(
                    "Delete {id} at {}? Blobs other revisions use are kept.",
                    commit.chars().take(7).collect::<String>()
                ),
                "Delete",
            ),
            Confirm::Prune => (
                "Delete every detached revision (no branch or tag points at it) and every blob \
                 no revision uses? Partial downloads are kept."
                    .to_string(),
                "Prune",
            ),
        };
        let mut decided = None;
        let modal = egui::Modal::new(egui::Id::unique("hubble-cache-confirm")).show(ctx, |ui| {
            ui.set_max_width(420.0);
            ui.label(question);
            ui.horizontal(|ui| {
                if ui
                    .button(format!("Yes, {}", button.to_lowercase()))
                    .clicked()
                {
                    decided = Some(true);
                }
                if ui.button("Keep").clicked() {
                    decided = Some(false);
                }
            });
        });
        if modal.should_close() && decided.is_none() {
            decided = Some(false);
        }
        let Some(yes) = decided else {
            return;
        };
        self.confirm = None;
        if !yes {
            return;
        }
        let root = root.to_path_buf();
        self.removal = Some(Background::spawn(runtime, ctx, move || match confirm {
            Confirm::Repo(id) => manage::remove(&root, &id, None, false),
            Confirm::Revision(id, commit) => manage::remove(&root, &id, Some(&commit), false),
            Confirm::Prune => manage::prune(&root, false),
        }));
    }
}

fn verify_summary(report: &VerifyReport) -> Verify {
    if report.bad.is_empty() {
        return Verify::Done {
            text: format!(
                "{} blobs ({}) match their hashes{}.",
                report.checked,
                bytes(report.checked_bytes),
                if report.skipped > 0 {
                    format!("; {} without a hash name skipped", report.skipped)
                } else {
                    String::new()
                }
            ),
            ok: true,
        };
    }
    let bad: Vec<String> = report
        .bad
        .iter()
        .map(|b| format!("{} {}", b.repo_id, b.path.display()))
        .collect();
    Verify::Done {
        text: format!(
            "{} of {} blobs do not match their hashes: {}. Delete the repo (or revision) and \
             download it again.",
            report.bad.len(),
            report.checked,
            bad.join(", ")
        ),
        ok: false,
    }
}

fn verify_label(ui: &mut egui::Ui, text: &str, ok: bool) {
    let color = if ok {
        ui.visuals().text_color()
    } else {
        ui.visuals().error_fg_color
    };
    ui.label(RichText::new(text).color(color));
}
