//! The system probe: CPU, RAM, every GPU with its memory, and the inference backends.
//!
//! Every source is optional and failure-free: a missing driver or library (NVML, Vulkan) means
//! "no such GPU", never an error. GPUs seen by several sources are reported once: NVML for
//! NVIDIA, sysfs for AMD, Metal on macOS, DXGI on Windows, Vulkan for the rest.

mod cpu;
pub mod cuda_driver;
mod drm;
#[cfg(windows)]
mod dxgi;
#[cfg(target_os = "macos")]
mod metal;
mod nvidia;
mod process;
mod vulkan;

use serde::{Deserialize, Serialize};

pub use cpu::CpuInfo;
pub use process::resident_bytes;

/// PCI vendor ids.
pub const VENDOR_NVIDIA: u32 = 0x10de;
/// AMD.
pub const VENDOR_AMD: u32 = 0x1002;
/// Intel.
pub const VENDOR_INTEL: u32 = 0x8086;

/// How a GPU's memory relates to the system's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuKind {
    /// Its own VRAM, separate from RAM.
    Discrete,
    /// Part of RAM set aside or shared (counted once, with RAM).
    Integrated,
    /// Apple-style unified memory: RAM and VRAM are one pool.
    Unified,
}

impl GpuKind {
    /// `discrete`, `integrated` or `unified`.
    pub fn name(self) -> &'static str {
        match self {
            GpuKind::Discrete => "discrete",
            GpuKind::Integrated => "integrated",
            GpuKind::Unified => "unified",
        }
    }
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Its name, as the driver says it.
    pub name: String,
    /// PCI vendor id (0 when unknown).
    pub vendor_id: u32,
    /// How its memory relates to RAM.
    pub kind: GpuKind,
    /// Memory it can use, in bytes (VRAM; for unified memory, Metal's recommended working set).
    pub memory_total: u64,
    /// Memory free now, when the source tells (NVML, AMD sysfs).
    pub memory_free: Option<u64>,
    /// Where this came from: `nvml`, `amdgpu-sysfs`, `vulkan`, `metal`, `dxgi`.
    pub source: String,
    /// Driver version, when known.
    pub driver: Option<String>,
}

impl GpuInfo {
    /// What a model may use: free memory when known, else the total.
    pub fn usable(&self) -> u64 {
        self.memory_free.unwrap_or(self.memory_total)
    }
}

/// RAM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryInfo {
    /// Installed RAM in bytes.
    pub total: u64,
    /// RAM available to a new program now, in bytes.
    pub available: u64,
}

/// An inference backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// `cpu`, `cuda`, `metal`.
    pub name: String,
    /// Whether this build contains it.
    pub compiled: bool,
    /// Whether it can run here now (compiled, and its device is present).
    pub usable: bool,
    /// Why not, or what it needs.
    pub note: Option<String>,
}

/// A wgpu adapter, as `hubble system` and the device picker list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WgpuAdapter {
    /// `wgpu:N`.
    pub index: usize,
    /// The driver's name for it.
    pub name: String,
    /// Vulkan, Metal or Dx12.
    pub backend: String,
    /// discrete, integrated, virtual, other, software.
    pub kind: String,
    /// Its memory, when a GPU probe above reported the same device (bytes).
    pub memory: Option<u64>,
    /// The largest storage binding, in bytes (larger tensors are split).
    pub max_binding_bytes: u64,
    /// Whether `auto` may pick it (not a software rasteriser).
    pub hardware: bool,
}

/// The wgpu adapters, with the memory of the GPUs probed as the same device.
fn wgpu_adapters(gpus: &[GpuInfo]) -> Vec<WgpuAdapter> {
    hubble_gpu::adapters::list()
        .into_iter()
        .map(|a| {
            let lower = a.name.to_ascii_lowercase();
            let memory = gpus
                .iter()
                .find(|g| {
                    let other = g.name.to_ascii_lowercase();
                    !other.is_empty() && (lower.contains(&other) || other.contains(&lower))
                })
                .map(|g| g.memory_total);
            WgpuAdapter {
                index: a.index,
                hardware: !a.is_software(),
                kind: a.kind.to_string(),
                backend: a.backend,
                memory,
                max_binding_bytes: a.max_binding_bytes,
                name: a.name,
            }
        })
        .collect()
}

/// The wgpu backend's row: in every build, usable where a hardware adapter exists.
fn wgpu_backend(adapters: &[WgpuAdapter]) -> Backend {
    let hardware = adapters.iter().filter(|a| a.hardware).count();
    Backend {
        name: "wgpu".into(),
        compiled: true,
        usable: hardware > 0,
        note: Some(match (hardware, adapters.len()) {
            (0, 0) => "no Vulkan, Metal or DX12 adapter found".into(),
            (0, n) => format!("{n} software adapter(s) only: `auto` won't pick them, wgpu:N will"),
            (h, _) => format!("{h} hardware adapter(s)"),
        }),
    }
}

/// Everything the probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// Operating system and architecture (`linux x86_64`).
    pub os: String,
    /// The CPU.
    pub cpu: CpuInfo,
    /// RAM.
    pub memory: MemoryInfo,
    /// GPUs, each once.
    pub gpus: Vec<GpuInfo>,
    /// Inference backends.
    pub backends: Vec<Backend>,
    /// The adapters wgpu computes on (`--device wgpu:N`).
    #[serde(default)]
    pub wgpu: Vec<WgpuAdapter>,
    /// What the probe could not read (for the UI's "details").
    pub notes: Vec<String>,
}

/// RAM alone, probed now (cheap: no GPU or Vulkan probe).
pub fn probe_memory() -> MemoryInfo {
    cpu::probe().1
}

impl SystemInfo {
    /// Probes this machine. Takes up to a second (Vulkan instance creation); call it off the UI
    /// thread.
    pub fn probe() -> SystemInfo {
        let mut notes = Vec::new();
        let (cpu, memory) = cpu::probe();
        let mut gpus = Vec::new();
        match nvidia::probe() {
            Ok(found) => gpus.extend(found),
            Err(note) => notes.push(note),
        }
        gpus.extend(drm::probe());
        #[cfg(target_os = "macos")]
        gpus.extend(metal::probe(memory.total));
        #[cfg(windows)]
        match dxgi::probe() {
            Ok(found) => {
                for gpu in found {
                    if !gpus.iter().any(|g| g.vendor_id == gpu.vendor_id) {
                        gpus.push(gpu);
                    }
                }
            }
            Err(note) => notes.push(note),
        }
        match vulkan::probe() {
            Ok(found) => {
                for gpu in found {
                    // Vulkan sees the GPUs above again: keep its view only of vendors no better
                    // source reported.
                    if !gpus.iter().any(|g| g.vendor_id == gpu.vendor_id) {
                        gpus.push(gpu);
                    }
                }
            }
            Err(note) => notes.push(note),
        }
        let wgpu = wgpu_adapters(&gpus);
        let mut backends = backends(&gpus);
        backends.push(wgpu_backend(&wgpu));
        SystemInfo {
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu,
            memory,
            gpus,
            backends,
            wgpu,
            notes,
        }
    }
}

impl SystemInfo {
    /// What is known when the probe could not run (it panicked): nothing but the backends of
    /// this build, and `note` saying why.
    pub fn unknown(note: &str) -> SystemInfo {
        SystemInfo {
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu: CpuInfo::default(),
            memory: MemoryInfo::default(),
            gpus: Vec::new(),
            backends: backends(&[]),
            wgpu: Vec::new(),
            notes: vec![note.to_string()],
        }
    }
}

/// The backends of this build: `cpu` always; `cuda` and `metal` are not compiled into this
/// build yet (they will be cargo features), so they are reported as missing, with whether
/// their device is present.
pub fn backends(gpus: &[GpuInfo]) -> Vec<Backend> {
    let nvidia = gpus.iter().any(|g| g.vendor_id == VENDOR_NVIDIA);
    let apple = gpus.iter().any(|g| g.source == "metal");
    vec![
        Backend {
            name: "cpu".into(),
            compiled: true,
            usable: true,
            note: None,
        },
        cuda_backend(nvidia),
        Backend {
            name: "metal".into(),
            compiled: false,
            usable: false,
            note: Some(if apple {
                "a Metal GPU is present, but this build has no Metal backend".into()
            } else {
                "not in this build; needs macOS".into()
            }),
        },
    ]
}

/// CUDA: compiled in only in CUDA builds (`scripts/build-cuda.sh`), usable where the NVIDIA
/// driver loads and a GPU is there.
fn cuda_backend(nvidia: bool) -> Backend {
    let compiled = cfg!(feature = "cuda");
    let driver = cuda_driver::driver();
    let note = match (compiled, nvidia, driver) {
        (false, true, _) => Some("an NVIDIA GPU is present, but this build has no CUDA backend: build it with scripts/build-cuda.sh".into()),
        (false, false, _) => Some("not in this build; needs an NVIDIA GPU".into()),
        (true, _, Err(why)) => Some(why.to_string()),
        (true, false, Ok(())) => Some("the NVIDIA driver loads, but no NVIDIA GPU was found".into()),
        (true, true, Ok(())) => None,
    };
    Backend {
        name: "cuda".into(),
        compiled,
        usable: compiled && nvidia && note.is_none(),
        note,
    }
}
