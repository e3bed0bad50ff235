//! The real `hubble` binary and its servers (`run`, `download`, `serve`, olah, the remote
//! router), driven as a user would from a shell: one test binary (`cargo test --test cli`).

#[path = "../support/mod.rs"]
mod support;

mod compare;
mod download;
mod errors;
mod hub_breadth;
mod info_card;
mod olah_cli;
mod olah_smoke;
mod remote_chat;
mod remote_tasks;
mod run;
mod run_image;
mod search;
mod serve_media;
mod serve_openai;
mod threads;
