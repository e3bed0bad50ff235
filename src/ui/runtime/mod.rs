//! How the UI runs work off its thread: the tokio [`worker`], background jobs, decoded images,
//! the single-instance socket and the inbox of links it receives.

pub(crate) mod background;
pub(crate) mod images;
pub(crate) mod inbox;
pub mod instance;
pub(crate) mod tasks;
pub(crate) mod worker;
