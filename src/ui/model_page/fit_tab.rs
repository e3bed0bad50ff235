//! The Fit tab: will this model fit this machine? Weights read from the files' headers (by
//! HTTP Range, on the worker), the model's shape, a context slider, dtype/quant and KV-cache
//! pickers, a bar per device coloured by verdict, the formula with its numbers, and the memory
//! measured after loading the model in the Try tab ([`FitView::set_measured`]).
//!
//! The reads run on the worker; the estimate and the verdicts are arithmetic, recomputed on the
//! UI thread each frame the tab is shown.

use std::collections::BTreeMap;

use eframe::egui::{self, RichText};

use crate::fit::dtype::TARGET_DTYPES;
use crate::fit::estimate::{
    DEFAULT_CONTEXT_CAP, Estimate, EstimateOptions, KvType, default_context, estimate,
    estimate_sized, gb, stored_dtype,
};
use crate::fit::read::ModelFit;
use crate::fit::system::SystemInfo;
use crate::fit::verdict::{DeviceVerdict, best, verdicts};
use crate::fit::weights::{GgufChoice, WeightFormat};
use crate::fit::{FitError, shape::ModelShape};
use crate::format::{bytes, grouped, params};
use crate::hub::{HubError, ModelInfo, RepoId};
use crate::ui::model_page::fit_bars::{device_bars, verdict_color};
use crate::ui::runtime::worker::{Job, Outcome, Reply, Ticket, Worker};
use crate::ui::widgets::error_box;

/// The longest context the slider offers when the model does not say its own.
const UNKNOWN_MAX_CONTEXT: u64 = 131_072;

/// One weight file's header read.
enum Read {
    /// On the worker.
    Loading(Ticket),
    /// Weights and shape.
    Ready(Box<ModelFit>),
    /// The client's message.
    Failed(String),
}

/// Memory measured after loading the model (set by the Try tab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// Bytes the loaded model takes.
    pub bytes: u64,
    /// Where it was loaded (`CPU`, `CUDA 0`, …).
    pub device: String,
}

/// What the bars show: the estimate for the current choices and its verdicts.
struct Current {
    estimate: Estimate,
    verdicts: Vec<DeviceVerdict>,
}

/// The Fit tab of one model page.
pub struct FitView {
    repo: RepoId,
    /// Header reads by weight file; `None` is the repository's default choice.
    reads: BTreeMap<Option<String>, Read>,
    /// The GGUF file picked in the quant list (`None`: the default read's file).
    picked: Option<String>,
    context: u64,
    /// Float weights converted to this dtype/quant (`None`: as stored).
    dtype: Option<String>,
    kv_type: KvType,
    /// The picture a diffusion pipeline is sized for (`None`: its own size).
    picture: Option<(u64, u64)>,
    measured: Option<Measured>,
    /// The device picked in the Try tab (its picker label), whose verdict leads.
    picked_device: Option<String>,
    current: Option<Current>,
}

impl FitView {
    /// A tab for `repo`; nothing is requested until it is first shown.
    pub fn new(repo: RepoId) -> FitView {
        FitView {
            repo,
            reads: BTreeMap::new(),
            picked: None,
            context: DEFAULT_CONTEXT_CAP,
            dtype: None,
            kv_type: KvType::F16,
            picture: None,
            measured: None,
            picked_device: None,
            current: None,
        }
    }

    /// Follows the device picked in the Try tab (`None`: auto): the verdict for that device
    /// leads the tab instead of the best one.
    pub fn set_picked_device(&mut self, label: Option<String>) {
        self.picked_device = label;
    }

    /// Records the memory the model took once loaded (the Try tab calls this); the tab then
    /// shows it next to the estimate.
    pub fn set_measured(&mut self, bytes: u64, device: String) {
        self.measured = Some(Measured { bytes, device });
    }

    /// The measured memory, if the Try tab has set it.
    pub fn measured(&self) -> Option<&Measured> {
        self.measured.as_ref()
    }

    /// The estimate the bars show (after the tab has been shown with its weights read).
    pub fn estimate(&self) -> Option<&Estimate> {
        self.current.as_ref().map(|c| &c.estimate)
    }

    /// The verdicts the bars show, one per GPU then the CPU (empty until the system is known).
    pub fn verdicts(&self) -> &[DeviceVerdict] {
        self.current.as_ref().map_or(&[], |c| &c.verdicts)
    }

    fn request(&mut self, worker: &mut Worker, info: &ModelInfo, file: Option<String>) {
        let job = Job::Fit(self.repo.clone(), Box::new(info.clone()), file.clone());
        self.reads.insert(file, Read::Loading(worker.submit(job)));
    }

    /// Takes the reply if it is one of this tab's reads; returns a failed read's Hub error so
    /// the app can toast it (and go offline when the Hub is unreachable).
    pub fn on_reply(&mut self, reply: &mut Option<Reply>) -> Option<HubError> {
        let id = reply.as_ref()?.id;
        let key = self
            .reads
            .iter()
            .find(|(_, r)| matches!(r, Read::Loading(t) if t.id == id))
            .map(|(k, _)| k.clone())?;
        let Some(Reply {
            outcome: Outcome::Fit(result),
            ..
        }) = reply.take()
        else {
            return None;
        };
        match result {
            Ok(fit) => {
                if key.is_none() {
                    self.context = default_context(&fit.shape).max(1);
                }
                self.reads.insert(key, Read::Ready(fit));
                None
            }
            Err(error) => {
                self.reads.insert(key, Read::Failed(error.to_string()));
                match error {
                    FitError::Hub(error) => Some(error),
                    _ => None,
                }
            }
        }
    }

    /// Shows the tab for `info` (the page's model info), starting the header read the first
    /// time.
    pub fn show(&mut self, ui: &mut egui::Ui, worker: &mut Worker, info: &ModelInfo) {
        if !self.reads.contains_key(&None) {
            self.request(worker, info, None);
        }
        let mut wanted: Option<Option<String>> = None;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| match self.reads.get(&None) {
                Some(Read::Ready(_)) => wanted = self.loaded(ui, worker.system()),
                Some(Read::Failed(error)) => {
                    if error_box(ui, error) {
                        wanted = Some(None);
                    }
                }
                _ => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading the weight files' headers (HTTP Range requests)…");
                    });
                }
            });
        if let Some(file) = wanted {
            self.request(worker, info, file);
        }
    }

    /// The tab once the default read is here; returns a weight file to read (a picked GGUF
    /// quant, or a retry).
    fn loaded(&mut self, ui: &mut egui::Ui, system: Option<&SystemInfo>) -> Option<Option<String>> {
        let Some(Read::Ready(base)) = self.reads.get(&None) else {
            return None;
        };
        let mut wanted = None;
        let base_file = base.weights.files.first().map(|f| f.path.clone());
        let picked = self
            .picked
            .clone()
            .filter(|p| Some(p) != base_file.as_ref());
        let active = match &picked {
            None => Some(base.as_ref()),
            Some(path) => match self.reads.get(&Some(path.clone())) {
                Some(Read::Ready(fit)) => Some(fit.as_ref()),
                _ => None,
            },
        };
        // Converting to another dtype applies to safetensors and pickles; a GGUF file is
        // already quantised (pick another file instead).
        let convertible = active.is_some_and(|f| f.weights.format != WeightFormat::Gguf);
        let options = EstimateOptions {
            context: Some(self.context),
            dtype: self.dtype.clone().filter(|_| convertible),
            kv_type: self.kv_type,
            picture: self.picture,
        };
        let estimate = match active {
            Some(fit) => estimate(&fit.weights, &fit.shape, &options).ok(),
            None => picked
                .as_ref()
                .and_then(|p| base.weights.gguf_files.iter().find(|g| &g.path == p))
                .map(|choice| sized(choice, &base.shape, &options)),
        };
        match active {
            Some(fit) => weights_section(ui, fit),
            None => {
                let path = picked.clone().unwrap_or_default();
                match self.reads.get(&picked) {
                    Some(Read::Failed(error)) => {
                        if error_box(ui, &format!("{path}: {error}")) {
                            wanted = Some(picked.clone());
                        }
                    }
                    _ => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label(format!(
                                "Reading the header of {path}… (sized by its file size until then)"
                            ));
                        });
                    }
                }
            }
        }
        ui.separator();
        let shape = active.map_or(&base.shape, |f| &f.shape);
        match shape.picture {
            Some(own) => picture_size_picker(ui, &mut self.picture, (own.width, own.height)),
            None => context_slider(ui, &mut self.context, shape),
        }
        ui.horizontal(|ui| {
            if convertible {
                let stored = format!("as stored ({})", stored_dtype(&base.weights));
                egui::ComboBox::from_label("Weights as")
                    .selected_text(self.dtype.clone().unwrap_or_else(|| stored.clone()))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.dtype, None, stored);
                        for dtype in TARGET_DTYPES {
                            ui.selectable_value(&mut self.dtype, Some(dtype.to_string()), *dtype);
                        }
                    });
                ui.add_space(16.0);
            }
            egui::ComboBox::from_label("KV cache type")
                .selected_text(self.kv_type.name())
                .show_ui(ui, |ui| {
                    for kv in KvType::ALL {
                        ui.selectable_value(&mut self.kv_type, kv, kv.name());
                    }
                });
        });
        if !base.weights.gguf_files.is_empty() {
            let current = picked.clone().or(base_file.clone());
            // GGUF files are sized as they are (a dtype picked for safetensors does not apply).
            let gguf_options = EstimateOptions {
                dtype: None,
                ..options.clone()
            };
            let clicked = self.quant_rows(ui, base, current.as_deref(), system, &gguf_options);
            if let Some(path) = clicked {
                let is_base = Some(&path) == base_file.as_ref();
                let key = Some(path.clone());
                if !is_base && !self.reads.contains_key(&key) {
                    wanted = Some(key);
                }
                self.picked = Some(path);
            }
        }
        ui.separator();
        let Some(estimate) = estimate else {
            self.current = None;
            return wanted;
        };
        let verdicts = system.map_or_else(Vec::new, |s| verdicts(&estimate, s));
        match system {
            Some(_) => summary(ui, &estimate, &verdicts, self.picked_device.as_deref()),
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Probing this machine (CPU, RAM, GPUs)…");
                });
            }
        }
        self.measured_line(ui, &estimate);
        if let Some(system) = system {
            device_bars(ui, &verdicts, system);
        }
        formula(ui, &estimate);
        self.current = Some(Current { estimate, verdicts });
        wanted
    }

    /// One row per GGUF file: name, quant, size and verdict; returns the row clicked.
    fn quant_rows(
        &self,
        ui: &mut egui::Ui,
        base: &ModelFit,
        current: Option<&str>,
        system: Option<&SystemInfo>,
        options: &EstimateOptions,
    ) -> Option<String> {
        let mut clicked = None;
        ui.label(RichText::new("GGUF files (pick one)").strong());
        egui::Grid::new(("gguf-quants", self.repo.as_str()))
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for choice in &base.weights.gguf_files {
                    let read = self.reads.get(&Some(choice.path.clone()));
                    let exact = match read {
                        Some(Read::Ready(fit)) => Some(fit.as_ref()),
                        _ if base.weights.files.first().map(|f| &f.path) == Some(&choice.path) => {
                            Some(base)
                        }
                        _ => None,
                    };
                    let estimate = match exact {
                        Some(fit) => estimate(&fit.weights, &fit.shape, options).ok(),
                        None => Some(sized(choice, &base.shape, options)),
                    };
                    let selected = current == Some(choice.path.as_str());
                    if ui.selectable_label(selected, &choice.path).clicked() {
                        clicked = Some(choice.path.clone());
                    }
                    ui.label(choice.quant.as_deref().unwrap_or("?"));
                    ui.label(
                        choice
                            .size
                            .map(bytes)
                            .unwrap_or_else(|| "size unknown".into()),
                    );
                    match (estimate, system) {
                        (Some(estimate), Some(system)) => {
                            let verdict = best(&verdicts(&estimate, system));
                            ui.label(
                                RichText::new(format!(
                                    "{}, needs {}",
                                    verdict.label(),
                                    gb(estimate.total_bytes)
                                ))
                                .color(verdict_color(verdict)),
                            );
                        }
                        _ => {
                            ui.label("");
                        }
                    }
                    ui.end_row();
                }
            });
        clicked
    }

    /// What the Try tab measured, next to the estimate (only once set).
    fn measured_line(&self, ui: &mut egui::Ui, estimate: &Estimate) {
        let Some(measured) = &self.measured else {
            return;
        };
        let total = estimate.total_bytes.max(1);
        let diff = (measured.bytes as f64 - total as f64) / total as f64 * 100.0;
        ui.label(
            RichText::new(format!(
                "Measured after loading in Try: {} on {} vs estimated {} ({diff:+.0}%)",
                gb(measured.bytes),
                measured.device,
                gb(estimate.total_bytes)
            ))
            .strong(),
        );
    }
}

/// The verdict for the device a Try-tab picker label names: the CPU's for `cpu` and for a
/// software adapter (it computes in RAM), else the GPU whose name the label contains.
/// The context slider, up to the model's trained context.
fn context_slider(ui: &mut egui::Ui, context: &mut u64, shape: &ModelShape) {
    let max = shape.max_context.unwrap_or(UNKNOWN_MAX_CONTEXT).max(1);
    ui.horizontal(|ui| {
        ui.add(
            egui::Slider::new(context, 1..=max)
                .logarithmic(true)
                .text("Context (tokens)"),
        );
        if shape.max_context.is_none() {
            ui.label(RichText::new("(the model does not say its trained context)").weak());
        }
    });
}

/// The picture sizes the Fit tab offers for a diffusion pipeline, beside its own.
const PICTURE_SIZES: [(u64, u64); 6] = [
    (512, 512),
    (768, 768),
    (1024, 1024),
    (1216, 832),
    (832, 1216),
    (1536, 1536),
];

/// A picker for the picture a diffusion pipeline is sized for (its activations grow with it).
fn picture_size_picker(ui: &mut egui::Ui, picture: &mut Option<(u64, u64)>, own: (u64, u64)) {
    let name = |(w, h): (u64, u64)| format!("{w}×{h}");
    let own_label = format!("its own ({})", name(own));
    egui::ComboBox::from_label("Picture size")
        .selected_text(picture.map_or(own_label.clone(), name))
        .show_ui(ui, |ui| {
            ui.selectable_value(picture, None, own_label);
            for size in PICTURE_SIZES.into_iter().filter(|s| *s != own) {
                ui.selectable_value(picture, Some(size), name(size));
            }
        });
}

fn verdict_for<'a>(verdicts: &'a [DeviceVerdict], label: &str) -> Option<&'a DeviceVerdict> {
    let cpu = || verdicts.iter().find(|v| v.device.starts_with("CPU"));
    let lower = label.to_ascii_lowercase();
    if lower == "cpu" || lower.contains("software") {
        return cpu();
    }
    verdicts.iter().find(|v| {
        let name = v
            .device
            .split_once(": ")
            .map_or(v.device.as_str(), |(_, name)| name);
        !name.is_empty() && lower.contains(&name.to_ascii_lowercase())
    })
}

/// The formula with its numbers, and the estimate's caveats.
fn formula(ui: &mut egui::Ui, estimate: &Estimate) {
    ui.add_space(8.0);
    ui.label(RichText::new("How it is computed").strong());
    for line in &estimate.formula {
        ui.monospace(line);
    }
    for note in &estimate.notes {
        ui.label(RichText::new(format!("Note: {note}")).weak());
    }
}

/// The estimate of a GGUF file not read yet, from its size.
fn sized(choice: &GgufChoice, shape: &ModelShape, options: &EstimateOptions) -> Estimate {
    let dtype = format!(
        "{} (GGUF)",
        choice.quant.as_deref().unwrap_or("unknown quant")
    );
    estimate_sized(choice.size.unwrap_or(0), &dtype, shape, options)
}

/// Parameters, bytes per dtype, exact or approximate, the Hub's count, and the shape.
fn weights_section(ui: &mut egui::Ui, fit: &ModelFit) {
    let w = &fit.weights;
    ui.label(RichText::new("Weights").strong());
    let count = match w.parameters {
        Some(n) => format!("{} parameters ({})", grouped(n), params(n)),
        None => "parameter count unknown".into(),
    };
    ui.label(format!(
        "{count}, {} in {} file(s)",
        bytes(w.bytes),
        w.files.len()
    ));
    let received: u64 = w.files.iter().map(|f| f.bytes_received).sum();
    ui.label(if w.exact {
        format!(
            "Exact: read from the files' headers ({} received, nothing else downloaded)",
            bytes(received)
        )
    } else {
        "Approximate (pickle file sizes): no safetensors or GGUF weights to read".into()
    });
    match (w.matches_hub(), w.hub_total) {
        (Some(true), _) => {
            ui.label("Equal to the Hub's parameter count.");
        }
        (Some(false), Some(total)) => {
            ui.label(format!(
                "The Hub counts {} parameters; the headers say otherwise.",
                grouped(total)
            ));
        }
        _ => {}
    }
    if !w.by_dtype.is_empty() {
        egui::Grid::new("fit-dtypes").num_columns(3).show(ui, |ui| {
            for (dtype, totals) in &w.by_dtype {
                ui.label(dtype);
                ui.label(format!("{} parameters", grouped(totals.parameters)));
                ui.label(bytes(totals.bytes));
                ui.end_row();
            }
        });
    }
    let s = &fit.shape;
    let shape = match &s.architecture {
        Some(arch) => format!(
            "Shape ({}): {arch}, {} layers, trained context {}{}",
            s.source,
            s.layers.map_or("?".into(), |l| l.to_string()),
            s.max_context.map_or("?".into(), |c| c.to_string()),
            if s.decoder {
                ""
            } else {
                ", encoder (no KV cache)"
            }
        ),
        None => "Shape unknown (no config.json or GGUF metadata): KV cache not included".into(),
    };
    ui.label(shape);
}

/// The needed total and the verdict in words: for the device picked in the Try tab when one
/// is (`picked`: its picker label), else the best of all.
fn summary(
    ui: &mut egui::Ui,
    estimate: &Estimate,
    verdicts: &[DeviceVerdict],
    picked: Option<&str>,
) {
    let needs = format!(
        "Needs {} at {} tokens",
        gb(estimate.total_bytes),
        estimate.context
    );
    let (verdict, line) = match picked.and_then(|label| verdict_for(verdicts, label)) {
        Some(v) => (
            v.verdict,
            format!(
                "{needs} on {} (picked in Try): {}",
                v.device,
                v.verdict.label()
            ),
        ),
        None => {
            let verdict = best(verdicts);
            (verdict, format!("{needs}: {}", verdict.label()))
        }
    };
    ui.label(RichText::new(line).heading().color(verdict_color(verdict)));
    ui.label(format!(
        "Weights {} ({}) + KV cache {} ({}) + overhead {}",
        gb(estimate.weights_bytes),
        estimate.weights_dtype,
        gb(estimate.kv_cache_bytes),
        estimate.kv_type.name(),
        gb(estimate.overhead_bytes)
    ));
}
