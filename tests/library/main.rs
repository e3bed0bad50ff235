//! The core modules called directly (cards, Fit, the Hub client, media decoding): one test
//! binary (`cargo test --test library`).

#[path = "../support/mod.rs"]
mod support;

mod cards;
mod fit;
mod hub_client;
mod media_hostile;
mod media_preprocess;
