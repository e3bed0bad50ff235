//! Helpers shared by the integration test binaries (each suite's `main.rs` declares `mod support`;
//! the two PulseAudio binaries include `audio.rs` alone).
#![allow(dead_code)] // Each binary uses a part.

pub mod audio;
pub mod cache;
pub mod cli;
pub mod gguf;
pub mod http;
pub mod olah;
pub mod parity;
pub mod python;
pub mod router;
pub mod serve;
pub mod ui;
pub mod weights;
