//! CPU model, cores and SIMD features; RAM (sysinfo).

use serde::{Deserialize, Serialize};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

use super::MemoryInfo;

/// The CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInfo {
    /// Model name (`AMD EPYC 7B13`), or empty when unknown.
    pub model: String,
    /// Physical cores, when known.
    pub physical_cores: Option<u64>,
    /// Logical cores (hardware threads).
    pub logical_cores: u64,
    /// SIMD features inference kernels use (`avx2`, `avx512f`, `fma`, `f16c`, `neon`, …).
    pub features: Vec<String>,
}

impl CpuInfo {
    /// Cores in words: `8 cores, 16 threads`, or `16 threads` when the physical count is
    /// unknown.
    pub fn cores_text(&self) -> String {
        match self.physical_cores {
            Some(p) => format!("{p} cores, {} threads", self.logical_cores),
            None => format!("{} threads", self.logical_cores),
        }
    }
}

pub(super) fn probe() -> (CpuInfo, MemoryInfo) {
    let Ok(system) = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    ) else {
        let logical = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let cpu = CpuInfo {
            logical_cores: logical,
            features: simd_features(),
            ..CpuInfo::default()
        };
        return (cpu, MemoryInfo::default());
    };
    let model = system
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .unwrap_or_default();
    let logical = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(system.cpus().len() as u64);
    let cpu = CpuInfo {
        model,
        physical_cores: System::physical_core_count().ok().map(|n| n as u64),
        logical_cores: logical.max(system.cpus().len() as u64),
        features: simd_features(),
    };
    let memory = MemoryInfo {
        total: system.total_memory(),
        available: system.available_memory(),
    };
    (cpu, memory)
}

/// SIMD features detected at run time.
pub fn simd_features() -> Vec<String> {
    #[allow(unused_mut)]
    let mut found: Vec<&str> = Vec::new();
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        macro_rules! x86 {
            ($($f:tt),*) => {$(
                if std::is_x86_feature_detected!($f) {
                    found.push($f);
                }
            )*};
        }
        x86!(
            "sse3",
            "ssse3",
            "sse4.1",
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16",
            "avxvnni"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! arm {
            ($($f:tt),*) => {$(
                if std::arch::is_aarch64_feature_detected!($f) {
                    found.push($f);
                }
            )*};
        }
        arm!(
            "neon", "dotprod", "fp16", "i8mm", "bf16", "sve", "sve2", "sme"
        );
    }
    found.into_iter().map(str::to_string).collect()
}
