//! What several task files share (a task file never imports another task file).

pub mod decoding;
pub mod entities;
pub mod images;
