//! Which candle device a pipeline runs on: CUDA, then Metal, then the CPU, unless the user says.
//!
//! CUDA and Metal exist only when Hubble is built with the `cuda` / `metal` cargo features (they
//! pass through to candle); without them `auto` is always the CPU and asking for a GPU is an error.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;

use super::InferError;

/// What the user asked for (`--device`, or the Try tab's device picker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    /// The first available of CUDA → Metal → CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// A CUDA GPU by ordinal.
    Cuda(usize),
    /// A Metal GPU by ordinal.
    Metal(usize),
}

impl FromStr for DeviceRequest {
    type Err = InferError;

    /// `auto`, `cpu`, `cuda`, `cuda:N`, `metal`, `metal:N` (case-insensitive).
    fn from_str(s: &str) -> Result<DeviceRequest, InferError> {
        let lower = s.trim().to_ascii_lowercase();
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
                "unknown device {s:?} (expected auto, cpu, cuda[:N] or metal[:N])"
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
        }
    }
}

/// Whether this build can use CUDA / Metal at all (compiled in and a device present).
pub fn available() -> Vec<DeviceRequest> {
    let mut out = Vec::new();
    if candle_core::utils::cuda_is_available() {
        out.push(DeviceRequest::Cuda(0));
    }
    if candle_core::utils::metal_is_available() {
        out.push(DeviceRequest::Metal(0));
    }
    out.push(DeviceRequest::Cpu);
    out
}

/// Opens the requested device; `Auto` tries CUDA, then Metal, then falls back to the CPU.
pub fn select(request: DeviceRequest) -> Result<Device, InferError> {
    match request {
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Cuda(n) => {
            if !candle_core::utils::cuda_is_available() {
                return Err(InferError::Device(
                    "CUDA is not available in this build (rebuild with `--features cuda`) or no \
                     CUDA device was found"
                        .into(),
                ));
            }
            Device::new_cuda(n).map_err(|e| InferError::Device(format!("cuda:{n}: {e}")))
        }
        DeviceRequest::Metal(n) => {
            if !candle_core::utils::metal_is_available() {
                return Err(InferError::Device(
                    "Metal is not available in this build (rebuild with `--features metal`) or no \
                     Metal device was found"
                        .into(),
                ));
            }
            Device::new_metal(n).map_err(|e| InferError::Device(format!("metal:{n}: {e}")))
        }
        DeviceRequest::Auto => {
            if candle_core::utils::cuda_is_available()
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
    fn parses_device_names() {
        for (text, want) in [
            ("auto", DeviceRequest::Auto),
            ("CPU", DeviceRequest::Cpu),
            ("cuda", DeviceRequest::Cuda(0)),
            ("cuda:1", DeviceRequest::Cuda(1)),
            ("metal", DeviceRequest::Metal(0)),
            ("metal:2", DeviceRequest::Metal(2)),
        ] {
            assert_eq!(text.parse::<DeviceRequest>().unwrap(), want, "{text}");
        }
        for bad in ["tpu", "cuda:x", "cpu:1", ""] {
            assert!(bad.parse::<DeviceRequest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_falls_back_to_the_cpu_without_gpu_features() {
        let device = select(DeviceRequest::Auto).unwrap();
        if !cfg!(any(feature = "cuda", feature = "metal")) {
            assert!(device.is_cpu());
            assert!(select(DeviceRequest::Cuda(0)).is_err());
            assert!(select(DeviceRequest::Metal(0)).is_err());
        }
        assert_eq!(describe(&Device::Cpu), "cpu");
        assert_eq!(available().last(), Some(&DeviceRequest::Cpu));
    }
}
