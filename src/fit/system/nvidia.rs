//! NVIDIA GPUs through NVML, which `nvml-wrapper` loads at run time (`libnvidia-ml.so.1`,
//! `nvml.dll`): no driver means no NVIDIA GPU, not an error.

use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;

use super::{GpuInfo, GpuKind, VENDOR_NVIDIA};

/// The NVIDIA GPUs, or a note saying why NVML could not list them (absent library or driver
/// are not notes: they just mean none).
pub(super) fn probe() -> Result<Vec<GpuInfo>, String> {
    let nvml = match Nvml::init() {
        Ok(nvml) => nvml,
        Err(
            NvmlError::LibloadingError(_)
            | NvmlError::LibraryNotFound
            | NvmlError::DriverNotLoaded
            | NvmlError::NoPermission,
        ) => return Ok(Vec::new()),
        Err(e) => return Err(format!("NVML: {e}")),
    };
    let driver = nvml.sys_driver_version().ok();
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML device count: {e}"))?;
    let mut gpus = Vec::new();
    for index in 0..count {
        let Ok(device) = nvml.device_by_index(index) else {
            continue;
        };
        let Ok(memory) = device.memory_info() else {
            continue;
        };
        gpus.push(GpuInfo {
            name: device
                .name()
                .unwrap_or_else(|_| format!("NVIDIA GPU {index}")),
            vendor_id: VENDOR_NVIDIA,
            kind: GpuKind::Discrete,
            memory_total: memory.total,
            memory_free: Some(memory.free),
            source: "nvml".into(),
            driver: driver.clone(),
        });
    }
    Ok(gpus)
}
