//! Hubble: a native desktop explorer for the Hugging Face Hub.
//!
//! The core (`config`, `hub`, `cache`, `card`) knows nothing of the front ends; `cli` (and the
//! GUI) call down into it. See ARCHITECTURE.md for the map.

pub mod cache;
pub mod card;
pub mod cli;
pub mod compare;
pub mod config;
pub mod datasets;
pub mod download;
pub mod fit;
pub mod format;
pub mod hub;
pub mod infer;
pub mod link;
pub mod media;
pub mod remote;
pub mod results;
pub mod serve;
pub mod ui;
