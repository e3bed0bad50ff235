//! The Server page: `hubble serve` inside the app — a switch that starts and stops the OpenAI
//! API server, its address, the models it has loaded and a live log of its requests.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use eframe::egui::{self, RichText};

use crate::config::HubConfig;
use crate::format::bytes;
use crate::serve::{DEFAULT_PORT, LogEntry, ServeOptions, ServerHandle};

/// How often the page redraws while the server runs (the log and the loaded models change
/// from other threads).
const REFRESH: Duration = Duration::from_millis(500);

/// The Server page's state: the running server, if any, and the settings for the next start.
pub struct ServerPage {
    server: Option<ServerHandle>,
    port: u16,
    everywhere: bool,
    api_key: String,
    error: Option<String>,
}

impl Default for ServerPage {
    fn default() -> ServerPage {
        ServerPage {
            server: None,
            port: DEFAULT_PORT,
            everywhere: false,
            api_key: String::new(),
            error: None,
        }
    }
}

impl ServerPage {
    /// The running server's base URL (`http://127.0.0.1:8080/v1`).
    pub fn base_url(&self) -> Option<String> {
        self.server.as_ref().map(ServerHandle::base_url)
    }

    /// Sets the port the next start takes (0: any free one).
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Draws the page; `config` is the app's (its cache is what the server serves).
    pub fn show(&mut self, ui: &mut egui::Ui, config: &HubConfig) {
        ui.heading("Server");
        ui.label(
            "Serves the models in your cache to other programs (editors, agents, scripts) over \
             the OpenAI API. Models load on first use and are unloaded, least recently used \
             first, when the next one would not fit in memory.",
        );
        ui.add_space(8.0);
        self.switch_row(ui, config);
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        ui.add_space(8.0);
        match &self.server {
            Some(server) => {
                running(ui, server);
                ui.ctx().request_repaint_after(REFRESH);
            }
            None => self.settings(ui),
        }
    }

    fn switch_row(&mut self, ui: &mut egui::Ui, config: &HubConfig) {
        ui.horizontal(|ui| {
            let mut on = self.server.is_some();
            let label = if on { "Serving" } else { "Start serving" };
            if ui.toggle_value(&mut on, label).changed() {
                if on {
                    self.start(config);
                } else {
                    self.server = None;
                }
            }
            if let Some(server) = &self.server {
                let url = server.base_url();
                ui.label(RichText::new(&url).monospace().strong());
                if ui.button("Copy address").clicked() {
                    ui.ctx().copy_text(url);
                }
            }
        });
    }

    fn start(&mut self, config: &HubConfig) {
        let host = if self.everywhere {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let options = ServeOptions {
            host,
            port: self.port,
            api_key: Some(self.api_key.trim().to_string()).filter(|k| !k.is_empty()),
            ..ServeOptions::default()
        };
        match ServerHandle::start(config.clone(), options) {
            Ok(server) => {
                self.server = Some(server);
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn settings(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("server-settings")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label("Port");
                ui.add(egui::DragValue::new(&mut self.port).range(0..=65535))
                    .on_hover_text("0 picks any free port");
                ui.end_row();
                ui.label("API key");
                ui.add(
                    egui::TextEdit::singleline(&mut self.api_key)
                        .password(true)
                        .hint_text("none: any local program may call it"),
                )
                .on_hover_text("Clients then send it as `Authorization: Bearer <key>`");
                ui.end_row();
                ui.label("Network");
                ui.checkbox(&mut self.everywhere, "Listen on every network interface");
                ui.end_row();
            });
        if self.everywhere {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "Any machine that can reach this one will be able to use your models; set an API key.",
            );
        }
    }
}

fn running(ui: &mut egui::Ui, server: &ServerHandle) {
    ui.label(format!(
        "Memory budget {} · endpoints: /models, /chat/completions, /completions, /embeddings, \
         /audio/transcriptions, /audio/speech, /images/generations",
        bytes(server.memory_budget())
    ));
    ui.add_space(6.0);
    ui.strong("Loaded models");
    let loaded = server.loaded();
    if loaded.is_empty() {
        ui.weak("None yet: a model loads on its first request.");
    }
    egui::Grid::new("server-loaded")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for model in &loaded {
                ui.label(&model.id);
                ui.label(model.task.as_str());
                ui.label(bytes(model.bytes));
                ui.label(if model.busy {
                    "running"
                } else {
                    &model.description
                });
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    ui.strong("Requests");
    let entries = server.log().entries();
    if entries.is_empty() {
        ui.weak("No requests yet.");
    }
    egui::ScrollArea::both()
        .id_salt("server-log")
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("server-log-rows")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for entry in entries.iter().rev() {
                        log_row(ui, entry);
                    }
                });
        });
}

fn log_row(ui: &mut egui::Ui, entry: &LogEntry) {
    let time = chrono::DateTime::<chrono::Local>::from(entry.at).format("%H:%M:%S");
    ui.label(RichText::new(time.to_string()).monospace());
    ui.label(&entry.request);
    ui.label(entry.model.as_deref().unwrap_or("-"));
    let status = RichText::new(entry.status.to_string()).monospace();
    if entry.status >= 400 {
        ui.colored_label(ui.visuals().error_fg_color, status);
    } else {
        ui.label(status);
    }
    ui.label(format!("{:.2} s  {}", entry.seconds, entry.note));
    ui.end_row();
}
