//! One file per task: the pipeline tags it answers, its planning (which architectures, from Hub
//! metadata or a folder), loading, typed request and response, and its `hubble run` arguments.
//! Each exports a `MODULE`; [`TASKS`] below is the one list of them, which the registry reads.
//! Adding a task: its `pub mod` line and its line in [`TASKS`].

pub mod audio_classification;
pub mod common;
pub mod feature_extraction;
pub mod image_classification;
pub mod image_text_to_text;
pub mod image_to_text;
pub mod object_detection;
pub mod question_answering;
pub mod seq2seq;
pub mod speech_recognition;
pub mod text_classification;
pub mod text_generation;
pub mod text_to_audio;
pub mod text_to_image;
pub mod text_to_speech;
pub mod zero_shot_classification;
pub mod zero_shot_image;

use super::task_module::TaskModule;

/// Every task file, in the order the Try tab lists their tasks.
pub static TASKS: &[&dyn TaskModule] = &[
    &text_generation::MODULE,
    &feature_extraction::MODULE,
    &text_classification::MODULE,
    &question_answering::MODULE,
    &zero_shot_classification::MODULE,
    &seq2seq::MODULE,
    &image_classification::MODULE,
    &zero_shot_image::MODULE,
    &object_detection::MODULE,
    &speech_recognition::MODULE,
    &audio_classification::MODULE,
    &image_to_text::MODULE,
    &image_text_to_text::MODULE,
    &text_to_image::MODULE,
    &text_to_speech::MODULE,
    &text_to_audio::MODULE,
];
