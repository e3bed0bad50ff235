//! Where a pipeline computes: CUDA, then Metal, then a hardware wgpu adapter, then the CPU,
//! unless the user says.
//!
//! CUDA and Metal exist only when Hubble is built with the `cuda` / `metal` cargo features (they
//! pass through to candle). wgpu is in every build: its adapters are the machine's Vulkan,
//! Metal and DX12 GPUs, computed on by `hubble_gpu`; `auto` never picks a software adapter
//! (llvmpipe, lavapipe), which only a request by name or index does.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use candle_core::Device;
use hubble_gpu::{Gpu, Selector};

use super::InferError;

/// What the user asked for (`--device`, or the Try tab's device picker).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    /// The first available of CUDA → Metal → a hardware wgpu adapter → CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// A CUDA GPU by ordinal.
    Cuda(usize),
    /// A Metal GPU by ordinal.
    Metal(usize),
    /// A wgpu adapter: the best hardware one, or one by index or name.
    Wgpu(Selector),
}

impl FromStr for DeviceRequest {
    type Err = InferError;

    /// `auto`, `cpu`, `cuda`, `cuda:N`, `metal`, `metal:N`, `wgpu`, `wgpu:N`, `wgpu:NAME`
    /// (case-insensitive but for the adapter's name).
    fn from_str(s: &str) -> Result<DeviceRequest, InferError> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "wgpu" || lower.starts_with("wgpu:") {
            return Ok(DeviceRequest::Wgpu(Selector::parse(
                s.trim().get(5..).unwrap_or(""),
            )));
        }
        let (kind, ordinal) = match lower.split_once(':') {
            Some((kind, n)) => {
                let n = n.parse::<usize>().map_err(|_| {
                    InferError::InvalidInput(format!("bad device ordinal in {s:?}"))
                })?;
                (kind, n)
            }
            None => (lower.as_str(), 0),
        };
        match kind {
            "auto" if ordinal == 0 && !lower.contains(':') => Ok(DeviceRequest::Auto),
            "cpu" if !lower.contains(':') => Ok(DeviceRequest::Cpu),
            "cuda" | "gpu" => Ok(DeviceRequest::Cuda(ordinal)),
            "metal" => Ok(DeviceRequest::Metal(ordinal)),
            _ => Err(InferError::InvalidInput(format!(
                "unknown device {s:?} (expected auto, cpu, cuda[:N], metal[:N] or wgpu[:N|:NAME])"
            ))),
        }
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRequest::Auto => f.write_str("auto"),
            DeviceRequest::Cpu => f.write_str("cpu"),
            DeviceRequest::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceRequest::Metal(n) => write!(f, "metal:{n}"),
            DeviceRequest::Wgpu(selector) => write!(f, "{selector}"),
        }
    }
}

/// The devices this build can use here: CUDA / Metal (compiled in and present), each wgpu
/// adapter (with its name, for the picker), then the CPU.
pub fn available() -> Vec<(DeviceRequest, String)> {
    let mut out = Vec::new();
    if crate::fit::system::cuda_driver::driver().is_ok() {
        out.push((DeviceRequest::Cuda(0), "cuda:0".to_string()));
    }
    if candle_core::utils::metal_is_available() {
        out.push((DeviceRequest::Metal(0), "metal:0".to_string()));
    }
    for adapter in hubble_gpu::adapters::list() {
        let label = format!(
            "wgpu:{} — {} ({}, {})",
            adapter.index, adapter.name, adapter.backend, adapter.kind
        );
        out.push((DeviceRequest::Wgpu(Selector::Index(adapter.index)), label));
    }
    out.push((DeviceRequest::Cpu, "cpu".to_string()));
    out
}

/// Where a pipeline computes: a candle device for the layers candle runs, and the wgpu device
/// when one was picked (the pipelines with a wgpu path use it; the others run on `candle`).
pub struct Placement {
    /// candle's device (the CPU when wgpu was picked).
    pub candle: Device,
    /// The wgpu device, if picked.
    pub gpu: Option<Arc<Gpu>>,
    /// Why `auto` settled where it did, when it passed something over.
    pub note: Option<String>,
}

impl Placement {
    fn candle(device: Device) -> Placement {
        Placement {
            candle: device,
            gpu: None,
            note: None,
        }
    }

    /// A short name for status lines ("cpu", "cuda:0", "wgpu:0 (NVIDIA H100, Vulkan)").
    pub fn describe(&self) -> String {
        match &self.gpu {
            Some(gpu) => describe_gpu(gpu),
            None => describe(&self.candle),
        }
    }
}

/// A wgpu device's name for status lines.
pub fn describe_gpu(gpu: &Gpu) -> String {
    let adapter = gpu.adapter();
    format!(
        "wgpu:{} ({}, {})",
        adapter.index, adapter.name, adapter.backend
    )
}

/// Opens what `request` asks for. `Auto` tries CUDA, then Metal, then a hardware wgpu
/// adapter, then settles on the CPU and says why in [`Placement::note`].
pub fn place(request: &DeviceRequest) -> Result<Placement, InferError> {
    match request {
        DeviceRequest::Wgpu(selector) => {
            let gpu = Gpu::open(selector).map_err(|e| InferError::Device(e.to_string()))?;
            Ok(Placement {
                candle: Device::Cpu,
                gpu: Some(Arc::new(gpu)),
                note: None,
            })
        }
        DeviceRequest::Auto => {
            let device = select(&DeviceRequest::Auto)?;
            if !device.is_cpu() {
                return Ok(Placement::candle(device));
            }
            match Gpu::open(&Selector::Auto) {
                Ok(gpu) => Ok(Placement {
                    candle: Device::Cpu,
                    gpu: Some(Arc::new(gpu)),
                    note: None,
                }),
                Err(e) => Ok(Placement {
                    note: Some(format!("computing on the CPU: {e}")),
                    ..Placement::candle(Device::Cpu)
                }),
            }
        }
        other => select(other).map(Placement::candle),
    }
}

/// Opens the requested candle device; `Auto` tries CUDA, then Metal, then falls back to the
/// CPU. A wgpu request is no candle device (see [`place`]).
pub fn select(request: &DeviceRequest) -> Result<Device, InferError> {
    match request {
        DeviceRequest::Wgpu(selector) => Err(InferError::Device(format!(
            "{selector} computes through wgpu, not candle"
        ))),
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Cuda(n) => {
            if let Err(why) = crate::fit::system::cuda_driver::driver() {
                return Err(InferError::Device(format!("CUDA is not available: {why}")));
            }
            Device::new_cuda(*n).map_err(|e| InferError::Device(format!("cuda:{n}: {e}")))
        }
        DeviceRequest::Metal(n) => {
            if !candle_core::utils::metal_is_available() {
                return Err(InferError::Device(
                    "Metal is not available in this build (rebuild with `--features metal`) or no \
                     Metal device was found"
                        .into(),
                ));
            }
            Device::new_metal(*n).map_err(|e| InferError::Device(format!("metal:{n}: {e}")))
        }
        DeviceRequest::Auto => {
            if crate::fit::system::cuda_driver::driver().is_ok()
                && let Ok(device) = Device::new_cuda(0)
            {
                return Ok(device);
            }
            if candle_core::utils::metal_is_available()
                && let Ok(device) = Device::new_metal(0)
            {
                return Ok(device);
            }
            Ok(Device::Cpu)
        }
    }
}

/// A short human name for a device ("cpu", "cuda:0", "metal:0").
pub fn describe(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_never_computes_on_a_software_adapter() {
        // This machine's only adapter may be lavapipe: `auto` then settles on the CPU, saying why.
        let placement = place(&DeviceRequest::Auto).unwrap();
        if let Some(gpu) = &placement.gpu {
            assert!(!gpu.adapter().is_software(), "{}", gpu.adapter().name);
        } else if placement.candle.is_cpu() {
            let note = placement.note.expect("a note on why not a GPU");
            assert!(note.contains("CPU"), "{note}");
        }
    }

    #[test]
    fn parses_device_names() {
        for (text, want) in [
            ("auto", DeviceRequest::Auto),
            ("CPU", DeviceRequest::Cpu),
            ("cuda", DeviceRequest::Cuda(0)),
            ("cuda:1", DeviceRequest::Cuda(1)),
            ("metal", DeviceRequest::Metal(0)),
            ("metal:2", DeviceRequest::Metal(2)),
            ("wgpu", DeviceRequest::Wgpu(Selector::Auto)),
            ("wgpu:1", DeviceRequest::Wgpu(Selector::Index(1))),
            (
                "WGPU:llvmpipe",
                DeviceRequest::Wgpu(Selector::Name("llvmpipe".into())),
            ),
        ] {
            assert_eq!(text.parse::<DeviceRequest>().unwrap(), want, "{text}");
        }
        for bad in ["tpu", "cuda:x", "cpu:1", ""] {
            assert!(bad.parse::<DeviceRequest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_falls_back_to_the_cpu_without_gpu_features() {
        let device = select(&DeviceRequest::Auto).unwrap();
        if !cfg!(any(feature = "cuda", feature = "metal")) {
            assert!(device.is_cpu());
            assert!(select(&DeviceRequest::Cuda(0)).is_err());
            assert!(select(&DeviceRequest::Metal(0)).is_err());
        }
        assert_eq!(describe(&Device::Cpu), "cpu");
        assert_eq!(
            available().last().map(|(d, _)| d),
            Some(&DeviceRequest::Cpu)
        );
    }
}
