//! Will it fit? The system probe, exact weight sizes read from file headers without
//! downloading the weights, runtime memory estimates and per-device verdicts.
//!
//! - [`system`]: CPU, RAM, GPUs (NVML, Vulkan, AMD sysfs, Metal, DXGI) and inference backends.
//! - [`safetensors`], [`gguf`]: pure, bounded header parsers; [`remote`] reads them from the
//!   Hub with HTTP `Range` (or from a server that ignores it, stopping early).
//! - [`weights`]: a repository's weights (single, sharded, GGUF files, `.bin` approximations).
//! - [`shape`]: what the KV cache depends on, from `config.json` or GGUF metadata; [`read`]:
//!   weights and shape of one model, as `hubble fit` and the app's Fit tab read them.
//! - [`estimate`]: weights + KV cache + overhead; [`verdict`]: per device; [`badge`]: the
//!   search-result badge from listing data alone.

pub mod badge;
pub mod dtype;
pub mod error;
pub mod estimate;
pub mod format_error;
pub mod gguf;
pub mod read;
pub mod remote;
pub mod safetensors;
pub mod shape;
pub mod system;
pub mod verdict;
pub mod weights;

pub use error::FitError;
pub use format_error::FormatError;
