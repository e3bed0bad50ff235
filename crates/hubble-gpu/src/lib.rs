//! Hubble's GPU compute runtime, on the same wgpu as the window (Vulkan, Metal, DX12): every
//! vendor's GPU with no vendor toolkit.
//!
//! - [`adapters`]: the machine's adapters, and which one `auto`, an index or a name picks;
//! - [`Gpu`]: one adapter's device and queue, with pipelines compiled once and cached;
//! - [`Buffer`] and [`Weight`]: activations and caches, and weight matrices as their file
//!   stores them (quantised blocks, split where a tensor exceeds the binding limit);
//! - [`Pass`]: kernels recorded into one command buffer and submitted once, then only what
//!   the host needs read back;
//! - [`ops`]: the kernels (`shaders/compute/*.wgsl`) with their shapes checked.
//!
//! The models themselves (which kernels, in which order) live in Hubble's `infer/models/`.

pub mod adapters;
mod buffer;
mod error;
mod gpu;
pub mod ops;
mod pass;
mod shaders;
mod weight;

pub use adapters::{AdapterSummary, DeviceKind, Selector};
pub use buffer::Buffer;
pub use error::GpuError;
pub use gpu::Gpu;
pub use ops::{Attention, Conv1d, Gate, KvCache, Rotation, Rows};
pub use pass::Pass;
pub use shaders::KvType;
pub use weight::{Weight, WeightType};
