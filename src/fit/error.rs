//! Errors of the fit module.

use super::format_error::FormatError;
use crate::hub::HubError;

/// Why the weights of a repository could not be sized.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The Hub could not be asked, or answered with an error.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A weight file's header is malformed.
    #[error("{path}: {error}")]
    Format {
        /// The file in the repository.
        path: String,
        /// What is wrong with it.
        error: FormatError,
    },
    /// Nothing in the repository (or the file asked for) is a weight file Hubble can size.
    #[error("{0}")]
    NoWeights(String),
}
