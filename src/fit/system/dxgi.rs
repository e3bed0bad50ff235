//! GPUs through DXGI (Windows only): each adapter's dedicated video memory; software adapters
//! (Microsoft Basic Render Driver) are skipped. Not compiled or tested on Linux CI.

use windows::Win32::Graphics::Dxgi::{
    CreateDXGIFactory1, DXGI_ADAPTER_FLAG_SOFTWARE, IDXGIFactory1,
};

use super::{GpuInfo, GpuKind};

pub(super) fn probe() -> Result<Vec<GpuInfo>, String> {
    // SAFETY: plain COM factory creation; the factory is released when dropped.
    let factory: IDXGIFactory1 =
        unsafe { CreateDXGIFactory1() }.map_err(|e| format!("DXGI factory: {e}"))?;
    let mut gpus = Vec::new();
    let mut index = 0;
    // SAFETY: EnumAdapters1 fails (DXGI_ERROR_NOT_FOUND) past the last adapter.
    while let Ok(adapter) = unsafe { factory.EnumAdapters1(index) } {
        index += 1;
        // SAFETY: `adapter` is a live adapter from the factory.
        let Ok(desc) = (unsafe { adapter.GetDesc1() }) else {
            continue;
        };
        if desc.Flags & (DXGI_ADAPTER_FLAG_SOFTWARE.0 as u32) != 0 {
            continue;
        }
        let end = desc
            .Description
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(desc.Description.len());
        let dedicated = desc.DedicatedVideoMemory as u64;
        gpus.push(GpuInfo {
            name: String::from_utf16_lossy(&desc.Description[..end]),
            vendor_id: desc.VendorId,
            // Integrated GPUs report little dedicated memory and use shared system memory.
            kind: if dedicated >= 1 << 30 {
                GpuKind::Discrete
            } else {
                GpuKind::Integrated
            },
            memory_total: if dedicated > 0 {
                dedicated
            } else {
                desc.SharedSystemMemory as u64
            },
            memory_free: None,
            source: "dxgi".into(),
            driver: None,
        });
    }
    Ok(gpus)
}
