//! Settings: what is persisted with eframe (endpoint, cache folder, theme, UI scale, recent
//! searches) and the settings window. The token is never persisted here: it is written to the
//! Hugging Face token file (mode 0600), exactly where `hf auth login` puts it.

use std::io::Write;
use std::path::{Path, PathBuf};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::config::{HubConfig, Overrides, TokenSource};
use crate::ui::browse::facets::labelled_edit;
use crate::ui::runtime::background::Background;

/// The eframe storage key.
pub const STORAGE_KEY: &str = "hubble-settings";

/// Light, dark, or as the system says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Theme {
    /// Follow the system.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// What the app remembers between runs (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Hub endpoint; empty means HF_ENDPOINT or the public Hub.
    pub endpoint: String,
    /// Hub cache folder; empty means HF_HUB_CACHE / HF_HOME.
    pub cache_dir: String,
    /// Colour theme.
    pub theme: Theme,
    /// Zoom factor (1.0 = 100 %).
    pub ui_scale: f32,
    /// Recent searches, newest first.
    pub recent_searches: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            endpoint: String::new(),
            cache_dir: String::new(),
            theme: Theme::System,
            ui_scale: 1.0,
            recent_searches: Vec::new(),
        }
    }
}

impl Settings {
    /// The overrides these settings add to the command line's (which win).
    pub fn overrides(&self, command_line: &Overrides) -> Overrides {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        Overrides {
            endpoint: command_line.endpoint.clone().or(text(&self.endpoint)),
            cache_dir: command_line
                .cache_dir
                .clone()
                .or(text(&self.cache_dir).map(Into::into)),
            token: command_line.token.clone(),
            offline: command_line.offline,
        }
    }

    /// Applies theme and scale to the context.
    pub fn apply_look(&self, ctx: &egui::Context) {
        ctx.set_theme(match self.theme {
            Theme::System => egui::ThemePreference::System,
            Theme::Light => egui::ThemePreference::Light,
            Theme::Dark => egui::ThemePreference::Dark,
        });
        ctx.set_zoom_factor(self.ui_scale.clamp(0.5, 3.0));
    }
}

/// Writes `token` to the token file like `hf auth login`: parent folders created, the file
/// readable by the user only (0600 on Unix), no trailing newline.
pub fn write_token_file(path: &Path, token: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(token.trim().as_bytes())?;
    file.sync_all()
}

/// The settings window's editable copy.
#[derive(Default)]
pub struct SettingsWindow {
    /// Whether it is open.
    pub open: bool,
    draft: Option<Settings>,
    token: String,
    message: Option<String>,
    /// The token file and whether it exists, as last looked up off the UI thread.
    token_file: Option<(PathBuf, bool)>,
    /// A token file write, removal or lookup under way on its own thread.
    token_job: Option<Background<TokenFileAnswer>>,
}

/// What the window's token buttons ask for.
enum TokenRequest {
    /// Write this token to the token file.
    Save(String),
    /// Delete the token file.
    Remove,
}

/// What a token-file job answers: a message for the window (none for a plain lookup),
/// whether the token changed, and whether the file exists now.
struct TokenFileAnswer {
    message: Option<String>,
    changed: bool,
    path: PathBuf,
    exists: bool,
}

impl SettingsWindow {
    /// Runs `job` on its own thread (file I/O never runs on the UI thread); its answer is read
    /// by [`SettingsWindow::poll_token_job`].
    fn start_token_job(
        &mut self,
        ctx: &egui::Context,
        path: &Path,
        job: impl FnOnce(&Path) -> (Option<String>, bool) + Send + 'static,
    ) {
        let path = path.to_path_buf();
        self.token_job = Some(Background::spawn_thread(ctx, move || {
            let (message, changed) = job(&path);
            let exists = path.exists();
            TokenFileAnswer {
                message,
                changed,
                path,
                exists,
            }
        }));
    }

    /// The finished token-file job's answer: updates the window, true when the token changed.
    fn poll_token_job(&mut self) -> bool {
        let Some(answer) = self.token_job.as_ref().and_then(Background::poll) else {
            return false;
        };
        self.token_job = None;
        let answer = match answer {
            Ok(answer) => answer,
            Err(message) => {
                self.message = Some(message);
                return false;
            }
        };
        self.token_file = Some((answer.path, answer.exists));
        if answer.message.is_some() {
            self.message = answer.message;
        }
        answer.changed
    }
}

/// What the settings window asks the app to do.
pub enum SettingsAction {
    /// Save these settings and rebuild the client.
    Apply(Settings),
    /// The token file changed: rebuild the client.
    TokenChanged,
}

impl SettingsWindow {
    /// Shows the window (when open).
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        current: &Settings,
        config: &HubConfig,
    ) -> Option<SettingsAction> {
        if !self.open {
            self.draft = None;
            self.token_file = None;
            return None;
        }
        let mut action = None;
        if self.poll_token_job() {
            action = Some(SettingsAction::TokenChanged);
        }
        let known = self
            .token_file
            .as_ref()
            .is_some_and(|(path, _)| *path == config.token_path);
        if !known && self.token_job.is_none() {
            self.start_token_job(ctx, &config.token_path, |_| (None, false));
        }
        let mut token_request = None;
        let mut open = self.open;
        let draft = self.draft.get_or_insert_with(|| current.clone());
        egui::Window::new("Settings")
            .open(&mut open)
            .resizable(false)
            .show(ctx, |ui| {
                ui.strong("Hub");
                labelled_edit(ui, "Endpoint", &mut draft.endpoint, &config.endpoint);
                let cache_hint = config.hub_cache.display().to_string();
                labelled_edit(ui, "Cache folder", &mut draft.cache_dir, &cache_hint);
                ui.label(
                    egui::RichText::new("Empty fields use HF_ENDPOINT / HF_HUB_CACHE or the defaults; command-line flags win.")
                        .small()
                        .weak(),
                );
                ui.separator();
                ui.strong("Access token");
                let source = match config.token_source {
                    None => "No token is set.".to_string(),
                    Some(TokenSource::Explicit) => "Using the token from --token.".into(),
                    Some(TokenSource::Environment) => "Using the token from HF_TOKEN.".into(),
                    Some(TokenSource::File) => {
                        format!("Using the token file {}.", config.token_path.display())
                    }
                };
                ui.label(source);
                ui.horizontal(|ui| {
                    let label = ui.label("New token");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.token)
                            .password(true)
                            .hint_text("hf_…")
                            .desired_width(220.0),
                    )
                    .labelled_by(label.id);
                    let idle = self.token_job.is_none();
                    if ui
                        .add_enabled(
                            idle && !self.token.trim().is_empty(),
                            egui::Button::new("Save token"),
                        )
                        .clicked()
                    {
                        token_request = Some(TokenRequest::Save(std::mem::take(&mut self.token)));
                    }
                });
                if self
            .token_file
            .as_ref()
            .is_some_and(|(path, exists)| *exists && *path == config.token_path)
                    && ui
                        .add_enabled(self.token_job.is_none(), egui::Button::new("Remove token file"))
                        .clicked()
                {
                    token_request = Some(TokenRequest::Remove);
                }
                if let Some(message) = &self.message {
                    ui.label(egui::RichText::new(message).small());
                }
                ui.separator();
                ui.strong("Appearance");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut draft.theme, Theme::System, "Follow system");
                    ui.radio_value(&mut draft.theme, Theme::Light, "Light");
                    ui.radio_value(&mut draft.theme, Theme::Dark, "Dark");
                });
                ui.add(egui::Slider::new(&mut draft.ui_scale, 0.5..=2.5).text("UI scale"));
                ui.separator();
                ui.horizontal(|ui| {
                    if ui.button("Apply").clicked() {
                        action = Some(SettingsAction::Apply(draft.clone()));
                    }
                    if ui.button("Reset to defaults").clicked() {
                        *draft = Settings {
                            recent_searches: draft.recent_searches.clone(),
                            ..Settings::default()
                        };
                    }
                });
            });
        self.open = open;
        match token_request {
            Some(TokenRequest::Save(token)) => {
                self.start_token_job(ctx, &config.token_path, move |path| match write_token_file(
                    path, &token,
                ) {
                    Ok(()) => (
                        Some(format!(
                            "Saved to {} (readable by you only).",
                            path.display()
                        )),
                        true,
                    ),
                    Err(e) => (
                        Some(format!("Could not write {}: {e}", path.display())),
                        false,
                    ),
                })
            }
            Some(TokenRequest::Remove) => self.start_token_job(ctx, &config.token_path, |path| {
                match std::fs::remove_file(path) {
                    Ok(()) => (Some("Token file removed.".into()), true),
                    Err(e) => (Some(format!("Could not remove the token file: {e}")), false),
                }
            }),
            None => {}
        }
        if matches!(action, Some(SettingsAction::Apply(_))) {
            self.draft = None;
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_private_and_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hf/token");
        write_token_file(&path, "  hf_secret\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hf_secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn command_line_wins_over_settings() {
        let settings = Settings {
            endpoint: "http://saved".into(),
            cache_dir: "/saved".into(),
            ..Settings::default()
        };
        let cli = Overrides {
            endpoint: Some("http://flag".into()),
            ..Overrides::default()
        };
        let merged = settings.overrides(&cli);
        assert_eq!(merged.endpoint.as_deref(), Some("http://flag"));
        assert_eq!(merged.cache_dir, Some("/saved".into()));
        let json = serde_json::to_string(&settings).unwrap();
        assert!(!json.contains("token"), "{json}");
    }
}
