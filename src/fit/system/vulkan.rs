//! GPUs through Vulkan, with `libvulkan` loaded at run time (ash's `loaded` feature): the
//! largest `DEVICE_LOCAL` heap of each physical device. CPU (software) adapters such as
//! lavapipe are skipped; integrated GPUs are marked so their heap (which is system RAM) is not
//! counted on top of RAM.

use ash::vk;

use super::{GpuInfo, GpuKind};

/// The Vulkan GPUs, or a note when Vulkan is present but failed (no loader: no GPUs, no note).
pub(super) fn probe() -> Result<Vec<GpuInfo>, String> {
    // SAFETY: loading the Vulkan loader library runs its initialisers; that is the documented
    // way to use it.
    let Ok(entry) = (unsafe { ash::Entry::load() }) else {
        return Ok(Vec::new());
    };
    let app = vk::ApplicationInfo::default()
        .application_name(c"hubble")
        .api_version(vk::make_api_version(0, 1, 0, 0));
    let create = vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: the create info and the application info it points to outlive the call.
    let instance = unsafe { entry.create_instance(&create, None) }
        .map_err(|e| format!("Vulkan instance: {e}"))?;
    // SAFETY: `instance` is valid until destroyed below; handles are not used after that.
    let result = unsafe { list(&instance) };
    // SAFETY: no object created from the instance outlives it.
    unsafe { instance.destroy_instance(None) };
    result
}

unsafe fn list(instance: &ash::Instance) -> Result<Vec<GpuInfo>, String> {
    // SAFETY: the caller keeps `instance` alive.
    let devices = unsafe { instance.enumerate_physical_devices() }
        .map_err(|e| format!("Vulkan devices: {e}"))?;
    let mut gpus = Vec::new();
    for device in devices {
        // SAFETY: `device` came from this instance.
        let props = unsafe { instance.get_physical_device_properties(device) };
        let kind = match props.device_type {
            vk::PhysicalDeviceType::DISCRETE_GPU => GpuKind::Discrete,
            vk::PhysicalDeviceType::INTEGRATED_GPU => GpuKind::Integrated,
            vk::PhysicalDeviceType::VIRTUAL_GPU => GpuKind::Discrete,
            // CPU (lavapipe, SwiftShader) and OTHER: not a GPU to run models on.
            _ => continue,
        };
        // SAFETY: as above.
        let memory = unsafe { instance.get_physical_device_memory_properties(device) };
        let heaps =
            &memory.memory_heaps[..(memory.memory_heap_count as usize).min(vk::MAX_MEMORY_HEAPS)];
        let largest = heaps
            .iter()
            .filter(|h| h.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
            .map(|h| h.size)
            .max()
            .unwrap_or(0);
        if largest == 0 {
            continue;
        }
        let name = props
            .device_name_as_c_str()
            .unwrap_or(c"Vulkan GPU")
            .to_string_lossy()
            .into_owned();
        gpus.push(GpuInfo {
            name,
            vendor_id: props.vendor_id,
            kind,
            memory_total: largest,
            memory_free: None,
            source: "vulkan".into(),
            driver: Some(version(props.driver_version)),
        });
    }
    Ok(gpus)
}

fn version(v: u32) -> String {
    format!(
        "{}.{}.{}",
        vk::api_version_major(v),
        vk::api_version_minor(v),
        vk::api_version_patch(v)
    )
}
