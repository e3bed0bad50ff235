//! The About window: version, renderer and graphics adapter, endpoint and cache, and what the
//! system probe found.

use eframe::egui;

use crate::config::HubConfig;
use crate::fit::system::SystemInfo;

/// Which renderer drew the first frame, on which adapter, and why a fallback happened.
#[derive(Debug, Clone, Default)]
pub struct RendererInfo {
    /// `wgpu` or `glow`.
    pub renderer: String,
    /// The adapter (e.g. `llvmpipe (LLVM 15.0.6, 256 bits) — Vulkan, Cpu`).
    pub adapter: String,
    /// Why wgpu was not used, if it was not.
    pub fallback_reason: Option<String>,
    /// The adapter rasterises on the CPU (llvmpipe, lavapipe, SwiftShader), so every frame
    /// costs CPU time a running model also needs.
    pub software: bool,
}

/// Shows the About window when `open`; `system` is the probe's result (`None` while it runs).
pub fn show(
    ctx: &egui::Context,
    open: &mut bool,
    renderer: &RendererInfo,
    config: &HubConfig,
    system: Option<&SystemInfo>,
) {
    egui::Window::new("About Hubble")
        .open(open)
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.heading(format!("Hubble {}", env!("CARGO_PKG_VERSION")));
            ui.label("A native desktop explorer for the Hugging Face Hub.");
            ui.separator();
            egui::Grid::new("about").num_columns(2).show(ui, |ui| {
                ui.label("Renderer");
                ui.label(if renderer.renderer.is_empty() {
                    "none (test harness)"
                } else {
                    &renderer.renderer
                });
                ui.end_row();
                ui.label("Adapter");
                ui.label(&renderer.adapter);
                ui.end_row();
                if let Some(reason) = &renderer.fallback_reason {
                    ui.label("Fallback");
                    ui.label(reason);
                    ui.end_row();
                }
                ui.label("Endpoint");
                ui.label(&config.endpoint);
                ui.end_row();
                ui.label("Cache");
                ui.label(config.hub_cache.display().to_string());
                ui.end_row();
                ui.label("Offline mode");
                ui.label(if config.offline { "on" } else { "off" });
                ui.end_row();
            });
            ui.separator();
            super::system_view::show(ui, system);
        });
}
