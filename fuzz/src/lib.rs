//! Hubble's weight-header parsers, included by path from `src/fit/` so that fuzzing builds only
//! them (and serde), not the whole application.
#![allow(dead_code)]

#[path = "../../src/fit/dtype.rs"]
pub mod dtype;
#[path = "../../src/fit/format_error.rs"]
pub mod format_error;
#[path = "../../src/fit/gguf.rs"]
pub mod gguf;
#[path = "../../src/fit/safetensors.rs"]
pub mod safetensors;
