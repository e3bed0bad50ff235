//! What the system probe found (the same data as `hubble system`), for the About window:
//! CPU, SIMD features, RAM, GPUs with their memory, and the inference backends.

use eframe::egui::{self, RichText};

use crate::fit::system::SystemInfo;
use crate::format::bytes;

/// Shows `system`, or a spinner while the background probe runs.
pub fn show(ui: &mut egui::Ui, system: Option<&SystemInfo>) {
    ui.label(RichText::new("This machine").strong());
    let Some(system) = system else {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Probing CPU, RAM and GPUs…");
        });
        return;
    };
    let cpu = &system.cpu;
    egui::Grid::new("about-system")
        .num_columns(2)
        .show(ui, |ui| {
            let mut row = |name: &str, value: String| {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            };
            row("System", system.os.clone());
            let model = if cpu.model.is_empty() {
                "unknown CPU"
            } else {
                &cpu.model
            };
            row("CPU", format!("{model} ({})", cpu.cores_text()));
            row(
                "SIMD",
                if cpu.features.is_empty() {
                    "none detected".into()
                } else {
                    cpu.features.join(" ")
                },
            );
            row(
                "RAM",
                format!(
                    "{} total, {} available",
                    bytes(system.memory.total),
                    bytes(system.memory.available)
                ),
            );
            if system.gpus.is_empty() {
                row("GPUs", "none found (NVML, amdgpu sysfs, Vulkan)".into());
            }
            for (i, gpu) in system.gpus.iter().enumerate() {
                let free = gpu
                    .memory_free
                    .map(|f| format!(", {} free", bytes(f)))
                    .unwrap_or_default();
                row(
                    &format!("GPU {i}"),
                    format!(
                        "{} ({}, {}{free}, from {})",
                        gpu.name,
                        gpu.kind.name(),
                        bytes(gpu.memory_total),
                        gpu.source
                    ),
                );
            }
            for backend in &system.backends {
                let state = match (backend.compiled, backend.usable) {
                    (true, true) => "in this build, usable",
                    (true, false) => "in this build, not usable here",
                    (false, _) => "not in this build",
                };
                let note = backend
                    .note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                row(
                    &format!("Backend {}", backend.name),
                    format!("{state}{note}"),
                );
            }
        });
    for note in &system.notes {
        ui.label(RichText::new(format!("Note: {note}")).weak());
    }
}
