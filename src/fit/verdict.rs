//! Per-device verdicts: fits on the GPU, partial offload (N of M layers), CPU only, or won't fit.
//!
//! For a GPU with `G` usable bytes and RAM with `R` available bytes, a model needing
//! `total = weights + kv + overhead`:
//! - **fits on GPU** when `total ≤ G`;
//! - **partial offload** of `N = ⌊(G − overhead) / per_layer⌋` of `M` layers, where
//!   `per_layer = (weights + kv) / M`, when `N ≥ 1` and the rest fits in RAM;
//! - **CPU only** when `total ≤ R`;
//! - **won't fit** otherwise.
//!
//! Memory counted once: an integrated GPU's heap and Apple's unified memory are RAM, so what the
//! GPU takes is subtracted from `R` (and `G` is at most `R`).

use serde::Serialize;

use super::estimate::{Estimate, gb};
use super::system::{GpuInfo, GpuKind, SystemInfo};

/// The outcome on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    /// Not even in RAM.
    WontFit,
    /// Runs from RAM on the CPU.
    CpuOnly,
    /// `gpu_layers` of `total_layers` layers on the GPU, the rest on the CPU.
    PartialOffload {
        /// Layers on the GPU.
        gpu_layers: u64,
        /// All layers.
        total_layers: u64,
    },
    /// Entirely on the GPU.
    FitsOnGpu,
}

impl Verdict {
    /// A short label for people: `fits on GPU`, `partial offload (12/32 layers)`, ….
    pub fn label(&self) -> String {
        match self {
            Verdict::FitsOnGpu => "fits on GPU".into(),
            Verdict::PartialOffload {
                gpu_layers,
                total_layers,
            } => format!("partial offload ({gpu_layers}/{total_layers} layers on GPU)"),
            Verdict::CpuOnly => "CPU only".into(),
            Verdict::WontFit => "won't fit".into(),
        }
    }
}

/// The verdict for one device, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceVerdict {
    /// `GPU 0: NVIDIA H100 80GB HBM3` or `CPU (RAM)`.
    pub device: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Bytes the model needs in all.
    pub needed: u64,
    /// Bytes it would take on the GPU (0 for CPU).
    pub gpu_bytes: u64,
    /// Bytes it would take in RAM.
    pub ram_bytes: u64,
    /// Usable GPU memory (0 for CPU).
    pub gpu_available: u64,
    /// Available RAM (after what the GPU takes, for shared memory).
    pub ram_available: u64,
    /// How it was decided, with the numbers.
    pub explanation: String,
}

/// Verdicts for every GPU, then one for the CPU alone.
pub fn verdicts(estimate: &Estimate, system: &SystemInfo) -> Vec<DeviceVerdict> {
    let mut out: Vec<DeviceVerdict> = system
        .gpus
        .iter()
        .enumerate()
        .map(|(i, gpu)| gpu_verdict(estimate, gpu, i, system.memory.available))
        .collect();
    out.push(cpu_verdict(estimate, system.memory.available));
    out
}

/// The best verdict over all devices.
pub fn best(verdicts: &[DeviceVerdict]) -> Verdict {
    verdicts
        .iter()
        .map(|v| v.verdict)
        .max()
        .unwrap_or(Verdict::WontFit)
}

fn cpu_verdict(estimate: &Estimate, ram: u64) -> DeviceVerdict {
    let needed = estimate.total_bytes;
    let fits = needed <= ram;
    DeviceVerdict {
        device: "CPU (RAM)".into(),
        verdict: if fits {
            Verdict::CpuOnly
        } else {
            Verdict::WontFit
        },
        needed,
        gpu_bytes: 0,
        ram_bytes: needed,
        gpu_available: 0,
        ram_available: ram,
        explanation: format!(
            "needs {} {} {} of RAM available",
            gb(needed),
            if fits { "≤" } else { ">" },
            gb(ram)
        ),
    }
}

fn gpu_verdict(estimate: &Estimate, gpu: &GpuInfo, index: usize, ram: u64) -> DeviceVerdict {
    let shared = matches!(gpu.kind, GpuKind::Integrated | GpuKind::Unified);
    let mut gpu_available = gpu.usable();
    if shared {
        gpu_available = gpu_available.min(ram);
    }
    let ram_after = |gpu_bytes: u64| {
        if shared {
            ram.saturating_sub(gpu_bytes)
        } else {
            ram
        }
    };
    let needed = estimate.total_bytes;
    let device = format!("GPU {index}: {}", gpu.name);
    let memory = match gpu.kind {
        GpuKind::Discrete => "VRAM",
        GpuKind::Integrated => "shared memory",
        GpuKind::Unified => "unified memory (Metal working set)",
    };
    if needed <= gpu_available {
        return DeviceVerdict {
            device,
            verdict: Verdict::FitsOnGpu,
            needed,
            gpu_bytes: needed,
            ram_bytes: 0,
            gpu_available,
            ram_available: ram_after(needed),
            explanation: format!(
                "needs {} ≤ {} usable {memory}",
                gb(needed),
                gb(gpu_available)
            ),
        };
    }
    let layered = estimate.weights_bytes + estimate.kv_cache_bytes;
    if let Some(layers) = estimate.layers.filter(|l| *l > 1)
        && gpu_available > estimate.overhead_bytes
    {
        let per_layer = layered.div_ceil(layers).max(1);
        let n = ((gpu_available - estimate.overhead_bytes) / per_layer).min(layers - 1);
        if n >= 1 {
            let gpu_bytes = estimate.overhead_bytes + n * per_layer;
            let ram_bytes = needed.saturating_sub(gpu_bytes);
            let ram_left = ram_after(gpu_bytes);
            if ram_bytes <= ram_left {
                return DeviceVerdict {
                    device,
                    verdict: Verdict::PartialOffload {
                        gpu_layers: n,
                        total_layers: layers,
                    },
                    needed,
                    gpu_bytes,
                    ram_bytes,
                    gpu_available,
                    ram_available: ram_left,
                    explanation: format!(
                        "needs {} > {} usable {memory}; {n} of {layers} layers ({} each) plus \
                         overhead {} fit on the GPU, the other {} stay in RAM ({} ≤ {} \
                         available)",
                        gb(needed),
                        gb(gpu_available),
                        gb(per_layer),
                        gb(estimate.overhead_bytes),
                        layers - n,
                        gb(ram_bytes),
                        gb(ram_left)
                    ),
                };
            }
        }
    }
    let mut cpu = cpu_verdict(estimate, ram);
    cpu.device = device;
    cpu.gpu_available = gpu_available;
    cpu.explanation = format!(
        "needs {} > {} usable {memory} and not one layer fits; on the CPU it {}",
        gb(needed),
        gb(gpu_available),
        cpu.explanation
    );
    cpu
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::estimate::KvType;
    use crate::fit::system::{CpuInfo, MemoryInfo, backends};

    const GB: u64 = 1_000_000_000;

    fn est(weights: u64, kv: u64, layers: u64) -> Estimate {
        let overhead = weights / 20 + 300_000_000;
        Estimate {
            weights_bytes: weights,
            weights_dtype: "BF16".into(),
            weights_exact: true,
            context: 4096,
            kv_cache_bytes: kv,
            kv_type: KvType::F16,
            overhead_bytes: overhead,
            total_bytes: weights + kv + overhead,
            layers: Some(layers),
            formula: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn system(ram: u64, gpus: Vec<GpuInfo>) -> SystemInfo {
        SystemInfo {
            os: "test".into(),
            cpu: CpuInfo::default(),
            memory: MemoryInfo {
                total: ram,
                available: ram,
            },
            backends: backends(&gpus),
            wgpu: Vec::new(),
            gpus,
            notes: Vec::new(),
        }
    }

    fn gpu(name: &str, kind: GpuKind, memory: u64) -> GpuInfo {
        GpuInfo {
            name: name.into(),
            vendor_id: 0,
            kind,
            memory_total: memory,
            memory_free: None,
            source: "test".into(),
            driver: None,
        }
    }

    #[test]
    fn discrete_16_gb_gpu_with_32_gb_ram() {
        let sys = system(32 * GB, vec![gpu("RTX 4080", GpuKind::Discrete, 16 * GB)]);
        // 8B in Q4_K_M, ~4.9 GB + 0.5 GB KV: fits on the GPU.
        let small = verdicts(&est(4_900_000_000, 512_000_000, 32), &sys);
        assert_eq!(small[0].verdict, Verdict::FitsOnGpu);
        assert_eq!(small[1].verdict, Verdict::CpuOnly);
        // 8B in BF16, 16 GB + 0.5 GB KV: 28 of 32 layers fit, the rest in RAM.
        let bf16 = verdicts(&est(16_060_000_000, 536_870_912, 32), &sys);
        let Verdict::PartialOffload {
            gpu_layers,
            total_layers,
        } = bf16[0].verdict
        else {
            panic!("{:?}", bf16[0]);
        };
        assert_eq!(total_layers, 32);
        assert!((20..32).contains(&gpu_layers), "{gpu_layers}");
        assert!(bf16[0].gpu_bytes <= 16 * GB);
        assert_eq!(bf16[0].gpu_bytes + bf16[0].ram_bytes, bf16[0].needed);
        // 70B in BF16, 141 GB: neither.
        let huge = verdicts(&est(141 * GB, 10 * GB, 80), &sys);
        assert_eq!(huge[0].verdict, Verdict::WontFit);
        assert_eq!(best(&huge), Verdict::WontFit);
        assert!(huge[0].explanation.contains("won't") || huge[0].explanation.contains(">"));
    }

    #[test]
    fn apple_unified_18_gb() {
        // An M3 Pro with 18 GB: Metal recommends ~12.7 GB; RAM is the same pool.
        let mut sys = system(
            18 * GB,
            vec![gpu("Apple M3 Pro", GpuKind::Unified, 12_700_000_000)],
        );
        let q4 = verdicts(&est(4_900_000_000, 512_000_000, 32), &sys);
        assert_eq!(q4[0].verdict, Verdict::FitsOnGpu);
        assert!(
            q4[0].ram_available < 18 * GB - 5 * GB,
            "the GPU's share leaves RAM"
        );
        // 16 GB of BF16: partial, and the layers left in RAM must fit in what the GPU left.
        let bf16 = verdicts(&est(16 * GB, 536_870_912, 32), &sys);
        match bf16[0].verdict {
            Verdict::PartialOffload { .. } => {
                assert!(bf16[0].ram_bytes <= 18 * GB - bf16[0].gpu_bytes)
            }
            Verdict::WontFit => {}
            other => panic!("{other:?}"),
        }
        assert!(
            bf16[0].gpu_bytes + bf16[0].ram_bytes <= 18 * GB || bf16[0].verdict == Verdict::WontFit
        );
        // With little RAM available now, the GPU budget shrinks with it.
        sys.memory.available = 5 * GB;
        let tight = verdicts(&est(4_900_000_000, 512_000_000, 32), &sys);
        assert_ne!(tight[0].verdict, Verdict::FitsOnGpu);
    }

    #[test]
    fn no_gpu() {
        let sys = system(16 * GB, Vec::new());
        let v = verdicts(&est(4_900_000_000, 512_000_000, 32), &sys);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].verdict, Verdict::CpuOnly);
        assert_eq!(best(&v), Verdict::CpuOnly);
        let big = verdicts(&est(30 * GB, GB, 60), &sys);
        assert_eq!(big[0].verdict, Verdict::WontFit);
    }

    #[test]
    fn integrated_gpu_is_not_counted_twice() {
        // An iGPU whose Vulkan heap is 8 GB of the 16 GB RAM.
        let sys = system(
            16 * GB,
            vec![gpu("Intel Iris Xe", GpuKind::Integrated, 8 * GB)],
        );
        let v = verdicts(&est(6 * GB, GB, 32), &sys);
        assert_eq!(v[0].verdict, Verdict::FitsOnGpu);
        assert!(v[0].ram_available <= 16 * GB - v[0].gpu_bytes);
        // 14 GB needs more than the 16 GB once the GPU's share is taken from RAM.
        let big = verdicts(&est(12 * GB, GB, 32), &sys);
        if let Verdict::PartialOffload { .. } = big[0].verdict {
            assert!(big[0].gpu_bytes + big[0].ram_bytes <= 16 * GB);
        }
        // 20 GB cannot fit in 16 GB, whatever the split (a discrete 8 GB GPU would allow it).
        let over = verdicts(&est(17 * GB, GB, 32), &sys);
        assert_eq!(over[0].verdict, Verdict::WontFit);
        let discrete = system(16 * GB, vec![gpu("RTX 3070", GpuKind::Discrete, 8 * GB)]);
        let split = verdicts(&est(17 * GB, GB, 32), &discrete);
        assert!(matches!(split[0].verdict, Verdict::PartialOffload { .. }));
    }
}
