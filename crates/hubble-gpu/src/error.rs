//! What can go wrong on a GPU, each with what to do about it.

/// A GPU failure: never a panic, always a message the app or CLI can show.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter matched the request (or none exists).
    #[error("{0}")]
    NoAdapter(String),
    /// The adapter lacks a limit or feature the kernels need.
    #[error("{adapter} can't run models: {why}")]
    Unsuitable {
        /// The adapter's name.
        adapter: String,
        /// What it lacks.
        why: String,
    },
    /// The device could not be opened.
    #[error("could not open {adapter}: {why}")]
    Open {
        /// The adapter's name.
        adapter: String,
        /// wgpu's reason.
        why: String,
    },
    /// A buffer could not be allocated: the GPU's memory is full.
    #[error("out of GPU memory ({0}); pick a smaller model or quantisation, or the CPU")]
    OutOfMemory(String),
    /// The device was lost (driver reset, GPU removed) or a submission failed.
    #[error("the GPU stopped answering ({0}); load the model again, or use the CPU")]
    Lost(String),
    /// Shapes or types that don't fit the kernel asked for.
    #[error("{0}")]
    Shape(String),
    /// A weight type with no kernel.
    #[error("{0} weights have no GPU kernel yet")]
    UnsupportedType(String),
}

/// Results of the runtime.
pub type Result<T> = std::result::Result<T, GpuError>;
