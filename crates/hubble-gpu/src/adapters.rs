//! The machine's GPU adapters, and which one a request picks.
//!
//! `auto` takes a hardware adapter, discrete before integrated; software rasterisers (llvmpipe,
//! lavapipe, SwiftShader, WARP) compute on the CPU, slower than the CPU path itself, so only a
//! request by index or name picks them (the tests do, on lavapipe).

use std::fmt;

use crate::error::{GpuError, Result};

/// What sort of adapter it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeviceKind {
    /// A discrete GPU with its own memory.
    Discrete,
    /// A GPU sharing system memory.
    Integrated,
    /// A virtual GPU (a VM's).
    Virtual,
    /// Unknown sort.
    Other,
    /// A software rasteriser running on the CPU.
    Software,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Discrete => "discrete",
            DeviceKind::Integrated => "integrated",
            DeviceKind::Virtual => "virtual",
            DeviceKind::Other => "other",
            DeviceKind::Software => "software",
        })
    }
}

/// One adapter as `hubble system` and the device picker show it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSummary {
    /// Its position in [`list`] (`wgpu:N`).
    pub index: usize,
    /// The driver's name for it.
    pub name: String,
    /// Vulkan, Metal or Dx12.
    pub backend: String,
    /// Discrete, integrated, software...
    pub kind: DeviceKind,
    /// The driver and its version, where the driver says.
    pub driver: String,
    /// The largest storage buffer a kernel can bind, in bytes (larger tensors are split).
    pub max_binding_bytes: u64,
    /// The largest buffer, in bytes.
    pub max_buffer_bytes: u64,
    /// Whether WGSL's `f16` is available.
    pub shader_f16: bool,
    /// Whether subgroup operations are available.
    pub subgroups: bool,
}

impl AdapterSummary {
    fn new(index: usize, adapter: &wgpu::Adapter) -> AdapterSummary {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features();
        AdapterSummary {
            index,
            kind: kind_of(&info),
            name: info.name,
            backend: format!("{:?}", info.backend),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_binding_bytes: limits.max_storage_buffer_binding_size,
            max_buffer_bytes: limits.max_buffer_size,
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
        }
    }

    /// Whether it computes on the CPU (never picked by `auto`).
    pub fn is_software(&self) -> bool {
        self.kind == DeviceKind::Software
    }
}

fn kind_of(info: &wgpu::AdapterInfo) -> DeviceKind {
    let name = info.name.to_ascii_lowercase();
    let software_name = [
        "llvmpipe",
        "lavapipe",
        "swiftshader",
        "microsoft basic render",
    ]
    .iter()
    .any(|known| name.contains(known));
    match info.device_type {
        _ if software_name => DeviceKind::Software,
        wgpu::DeviceType::Cpu => DeviceKind::Software,
        wgpu::DeviceType::DiscreteGpu => DeviceKind::Discrete,
        wgpu::DeviceType::IntegratedGpu => DeviceKind::Integrated,
        wgpu::DeviceType::VirtualGpu => DeviceKind::Virtual,
        wgpu::DeviceType::Other => DeviceKind::Other,
    }
}

/// Which adapter a request means: `wgpu` (auto), `wgpu:N` or `wgpu:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selector {
    /// The best hardware adapter; never a software one.
    #[default]
    Auto,
    /// By position in [`list`].
    Index(usize),
    /// The first adapter whose name contains this (case-insensitive).
    Name(String),
}

impl Selector {
    /// From what follows `wgpu:` (empty for `auto`): a number is an index, anything else a name.
    pub fn parse(text: &str) -> Selector {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("auto") {
            Selector::Auto
        } else if let Ok(index) = text.parse() {
            Selector::Index(index)
        } else {
            Selector::Name(text.to_string())
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Auto => f.write_str("wgpu"),
            Selector::Index(n) => write!(f, "wgpu:{n}"),
            Selector::Name(name) => write!(f, "wgpu:{name}"),
        }
    }
}

/// The compute-capable backends (not OpenGL, whose compute wgpu doesn't offer everywhere).
fn instance() -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    wgpu::Instance::new(descriptor)
}

fn adapters() -> Vec<wgpu::Adapter> {
    pollster::block_on(
        instance().enumerate_adapters(
            wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12,
        ),
    )
}

/// Every adapter, in a stable order (`wgpu:N` indexes it).
pub fn list() -> Vec<AdapterSummary> {
    adapters()
        .iter()
        .enumerate()
        .map(|(index, adapter)| AdapterSummary::new(index, adapter))
        .collect()
}

/// The adapter `selector` picks among `summaries` (the rule, apart from the drivers).
pub fn pick(summaries: &[AdapterSummary], selector: &Selector) -> Result<usize> {
    let names = || {
        let names: Vec<String> = summaries
            .iter()
            .map(|a| format!("{}: {} ({}, {})", a.index, a.name, a.backend, a.kind))
            .collect();
        if names.is_empty() {
            "no GPU adapter was found (is a Vulkan, Metal or DX12 driver installed?)".to_string()
        } else {
            format!("adapters: {}", names.join("; "))
        }
    };
    match selector {
        Selector::Auto => summaries
            .iter()
            .filter(|a| !a.is_software())
            .min_by_key(|a| a.kind)
            .map(|a| a.index)
            .ok_or_else(|| {
                GpuError::NoAdapter(format!(
                    "no hardware GPU adapter to compute on; {}",
                    names()
                ))
            }),
        Selector::Index(n) => summaries
            .iter()
            .find(|a| a.index == *n)
            .map(|a| a.index)
            .ok_or_else(|| GpuError::NoAdapter(format!("there is no wgpu:{n}; {}", names()))),
        Selector::Name(name) => {
            let lower = name.to_ascii_lowercase();
            summaries
                .iter()
                .find(|a| a.name.to_ascii_lowercase().contains(&lower))
                .map(|a| a.index)
                .ok_or_else(|| {
                    GpuError::NoAdapter(format!("no adapter is named like {name:?}; {}", names()))
                })
        }
    }
}

/// The adapter `selector` picks, with its summary.
pub(crate) fn open(selector: &Selector) -> Result<(wgpu::Adapter, AdapterSummary)> {
    let mut found = adapters();
    let summaries: Vec<AdapterSummary> = found
        .iter()
        .enumerate()
        .map(|(index, adapter)| AdapterSummary::new(index, adapter))
        .collect();
    let index = pick(&summaries, selector)?;
    Ok((found.swap_remove(index), summaries[index].clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(index: usize, name: &str, kind: DeviceKind) -> AdapterSummary {
        AdapterSummary {
            index,
            name: name.into(),
            backend: "Vulkan".into(),
            kind,
            driver: String::new(),
            max_binding_bytes: 1 << 27,
            max_buffer_bytes: 1 << 28,
            shader_f16: false,
            subgroups: false,
        }
    }

    #[test]
    fn auto_prefers_discrete_and_never_picks_software() {
        let machine = [
            summary(0, "llvmpipe (LLVM 19)", DeviceKind::Software),
            summary(1, "Intel UHD 770", DeviceKind::Integrated),
            summary(2, "AMD Radeon RX 7800", DeviceKind::Discrete),
        ];
        assert_eq!(pick(&machine, &Selector::Auto).unwrap(), 2);
        assert_eq!(pick(&machine[..2], &Selector::Auto).unwrap(), 1);
        let error = pick(&machine[..1], &Selector::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no hardware GPU") && error.contains("llvmpipe"),
            "{error}"
        );
        assert_eq!(pick(&machine, &Selector::parse("LLVMpipe")).unwrap(), 0);
        assert_eq!(pick(&machine, &Selector::parse("1")).unwrap(), 1);
        assert!(pick(&machine, &Selector::parse("7")).is_err());
        assert!(
            pick(&[], &Selector::Auto)
                .unwrap_err()
                .to_string()
                .contains("driver")
        );
    }

    #[test]
    fn selectors_parse_and_print() {
        assert_eq!(Selector::parse(""), Selector::Auto);
        assert_eq!(Selector::parse("3"), Selector::Index(3));
        assert_eq!(Selector::parse("lavapipe").to_string(), "wgpu:lavapipe");
    }
}
