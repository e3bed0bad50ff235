//! The fit badge of a search result, from what the listing already holds (no request per row):
//! `safetensors.parameters` per dtype (exact weight bytes) or `gguf.total` (parameters, sized at
//! Q4_K_M's 4.85 bits since the listing does not say which quant).
//!
//! ```text
//! needed ≈ weights × 1.2 + 0.3 GB   (KV cache for a few thousand tokens and runtime overhead)
//! ```
//! then the per-device rules of [`super::verdict`] (with no layer count, so no partial offload
//! unless the weights alone exceed the GPU while the whole fits GPU + RAM).

use serde::Serialize;

use super::dtype::{safetensors_bits, target_bits};
use super::estimate::{Estimate, KvType, gb};
use super::system::SystemInfo;
use super::verdict::{Verdict, best, verdicts};
use crate::hub::ModelInfo;

/// How the badge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadgeLevel {
    /// Fits on a GPU.
    Gpu,
    /// Split between GPU and CPU.
    Partial,
    /// CPU only.
    Cpu,
    /// Too big for this machine.
    TooBig,
}

/// A search-result badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FitBadge {
    /// The level (for the colour).
    pub level: BadgeLevel,
    /// Short text: `GPU`, `GPU+CPU`, `CPU`, `too big`.
    pub label: String,
    /// A sentence with the numbers, for the tooltip.
    pub tooltip: String,
    /// Estimated bytes needed.
    pub needed: u64,
}

/// Overhead added to the listing's weights: 20% plus 0.3 GB.
const FACTOR: f64 = 1.2;
const FIXED: u64 = 300_000_000;

/// The badge for a listing entry, or `None` when the listing has no size information.
pub fn fit_badge(model: &ModelInfo, system: &SystemInfo) -> Option<FitBadge> {
    let (weights, how) = listing_weights(model)?;
    let needed = (weights as f64 * FACTOR) as u64 + FIXED;
    let estimate = Estimate {
        weights_bytes: weights,
        weights_dtype: how.clone(),
        weights_exact: false,
        context: 0,
        kv_cache_bytes: 0,
        kv_type: KvType::F16,
        overhead_bytes: needed - weights,
        total_bytes: needed,
        layers: None,
        formula: Vec::new(),
        notes: Vec::new(),
    };
    let all = verdicts(&estimate, system);
    let verdict = best(&all);
    // Without layer counts the rules cannot split; allow it when GPU + RAM hold the whole.
    let split = system.gpus.iter().any(|g| {
        g.kind == super::system::GpuKind::Discrete
            && needed <= g.usable() + system.memory.available
            && weights > g.usable()
    });
    let (level, label) = match verdict {
        Verdict::FitsOnGpu => (BadgeLevel::Gpu, "GPU"),
        Verdict::PartialOffload { .. } => (BadgeLevel::Partial, "GPU+CPU"),
        Verdict::CpuOnly | Verdict::WontFit if split => (BadgeLevel::Partial, "GPU+CPU"),
        Verdict::CpuOnly => (BadgeLevel::Cpu, "CPU"),
        Verdict::WontFit => (BadgeLevel::TooBig, "too big"),
    };
    Some(FitBadge {
        level,
        label: label.into(),
        tooltip: format!(
            "≈ {} needed ({how} weights {} × 1.2 + 0.3 GB); best: {}",
            gb(needed),
            gb(weights),
            verdict.label()
        ),
        needed,
    })
}

/// Weight bytes from the listing and how they were derived.
fn listing_weights(model: &ModelInfo) -> Option<(u64, String)> {
    if let Some(st) = &model.safetensors
        && !st.parameters.is_empty()
    {
        let bytes = st
            .parameters
            .iter()
            .map(|(dtype, n)| n * safetensors_bits(dtype).unwrap_or(16) / 8)
            .sum();
        let main = st
            .parameters
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(d, _)| d.clone())
            .unwrap_or_default();
        return Some((bytes, main));
    }
    let total = model.gguf.as_ref().and_then(|g| g.total)?;
    let bits = target_bits("Q4_K_M")?;
    Some(((total as f64 * bits / 8.0) as u64, "GGUF (Q4_K_M)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::system::{CpuInfo, GpuInfo, GpuKind, MemoryInfo, backends};

    fn model(json: serde_json::Value) -> ModelInfo {
        serde_json::from_value(json).unwrap()
    }

    fn system(ram: u64, vram: Option<u64>) -> SystemInfo {
        let gpus: Vec<GpuInfo> = vram
            .map(|v| GpuInfo {
                name: "GPU".into(),
                vendor_id: 0x10de,
                kind: GpuKind::Discrete,
                memory_total: v,
                memory_free: None,
                source: "test".into(),
                driver: None,
            })
            .into_iter()
            .collect();
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

    #[test]
    fn badges_from_listing_data() {
        const GB: u64 = 1_000_000_000;
        let bert = model(serde_json::json!({
            "id": "google-bert/bert-base-uncased",
            "safetensors": {"parameters": {"F32": 110106428u64}, "total": 110106428u64}
        }));
        let b = fit_badge(&bert, &system(16 * GB, Some(8 * GB))).unwrap();
        assert_eq!(b.level, BadgeLevel::Gpu);
        assert_eq!(b.needed, (440_425_712.0 * 1.2) as u64 + 300_000_000);
        let b = fit_badge(&bert, &system(16 * GB, None)).unwrap();
        assert_eq!((b.level, b.label.as_str()), (BadgeLevel::Cpu, "CPU"));
        let llama70 = model(serde_json::json!({
            "id": "x/70b", "safetensors": {"parameters": {"BF16": 70_553_706_496u64}}
        }));
        assert_eq!(
            fit_badge(&llama70, &system(32 * GB, Some(24 * GB)))
                .unwrap()
                .level,
            BadgeLevel::TooBig
        );
        assert_eq!(
            fit_badge(&llama70, &system(160 * GB, Some(24 * GB)))
                .unwrap()
                .level,
            BadgeLevel::Partial
        );
        let gguf = model(serde_json::json!({"id": "x/g", "gguf": {"total": 8_030_261_248u64}}));
        assert_eq!(
            fit_badge(&gguf, &system(32 * GB, Some(4 * GB)))
                .unwrap()
                .level,
            BadgeLevel::Partial
        );
        assert!(
            fit_badge(
                &model(serde_json::json!({"id": "x/none"})),
                &system(GB, None)
            )
            .is_none()
        );
    }
}
