//! The error of the weight-file parsers (kept free of other crate modules, so that the fuzz
//! targets in `fuzz/` can include the parsers by path).

use std::fmt;

/// Why a safetensors or GGUF header could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The bytes end before the header does: at least `needed` bytes (from the start of the
    /// file) are required. Incremental readers fetch more and retry; for a whole file it means
    /// the file is truncated.
    Truncated {
        /// Bytes from the start of the file needed to go on.
        needed: u64,
    },
    /// The header is malformed, unsupported, or larger than the limits.
    Invalid(String),
}

impl FormatError {
    pub(crate) fn invalid(message: impl Into<String>) -> FormatError {
        FormatError::Invalid(message.into())
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Truncated { needed } => write!(
                f,
                "the file ends before its header does (at least {needed} bytes are needed)"
            ),
            FormatError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for FormatError {}
