//! Apple GPUs through Metal (macOS only): unified memory, of which Metal recommends using at
//! most `recommendedMaxWorkingSetSize` for GPU work. Not compiled or tested on Linux CI.

use objc2_metal::{MTLCreateSystemDefaultDevice, MTLDevice};

use super::{GpuInfo, GpuKind};

// Command-line programs must link CoreGraphics for MTLCreateSystemDefaultDevice to find a GPU.
#[link(name = "CoreGraphics", kind = "framework")]
unsafe extern "C" {}

pub(super) fn probe(ram_total: u64) -> Vec<GpuInfo> {
    let Some(device) = MTLCreateSystemDefaultDevice() else {
        return Vec::new();
    };
    #[allow(unused_unsafe)]
    let (working_set, unified) = unsafe {
        (
            device.recommendedMaxWorkingSetSize(),
            device.hasUnifiedMemory(),
        )
    };
    vec![GpuInfo {
        name: "Apple GPU (Metal)".into(),
        vendor_id: 0x106b,
        kind: if unified {
            GpuKind::Unified
        } else {
            GpuKind::Discrete
        },
        memory_total: if working_set > 0 {
            working_set
        } else {
            ram_total
        },
        memory_free: None,
        source: "metal".into(),
        driver: None,
    }]
}
