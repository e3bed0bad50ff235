//! Media inputs for the Try tab and `hubble run`: audio files, resampling and the microphone.

pub mod audio;
pub mod mic;
pub mod resample;
pub mod transcript;
