//! The app driven through its AccessKit tree (egui_kittest, no GPU): one test binary for every
//! view, so the app and its dependencies are linked once (`cargo test --test ui`).

#[path = "../support/mod.rs"]
mod support;

mod app;
mod compare;
mod downloads;
mod fit;
mod hub_breadth;
mod server;
mod try_audio;
mod try_generate;
mod try_image;
mod try_tab;
mod try_vision_chat;
