//! The microphone: input devices (cpal), recording to memory, and a level for the meter.
//!
//! cpal calls back on its own audio thread; samples are mixed to mono there and appended to a
//! shared buffer the UI reads each frame (the tail for the waveform, the level for the meter).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{Data, SampleFormat};

use super::audio::{AudioClip, MAX_SECONDS};
use super::audio_device::{AudioDevice, STALL, StreamErrors, device_by_id, listed};

/// Lists the host's input devices (the default first). No devices is an empty list, not an error.
pub fn input_devices() -> Vec<AudioDevice> {
    let host = cpal::default_host();
    listed(host.input_devices(), host.default_input_device())
}

struct Shared {
    samples: Vec<f32>,
    /// When the last buffer arrived (at first: when the stream started).
    arrived: Instant,
    errors: StreamErrors,
}

/// A recording in progress; dropping it stops the stream.
pub struct Recorder {
    stream: cpal::Stream,
    shared: Arc<Mutex<Shared>>,
    rate: u32,
    device: String,
}

impl Recorder {
    /// Starts recording from the device with `id` (None: the default input). `on_data` is called
    /// from the audio thread after each buffer (the app passes `request_repaint`).
    pub fn start(
        id: Option<&str>,
        on_data: impl Fn() + Send + 'static,
    ) -> Result<Recorder, String> {
        let host = cpal::default_host();
        let device = match id {
            Some(id) => device_by_id(&host, id)?,
            None => host
                .default_input_device()
                .ok_or("no microphone found: connect one or check the system's sound settings")?,
        };
        let name = device.to_string();
        let config = device
            .default_input_config()
            .map_err(|e| format!("{name}: cannot read its input format ({e})"))?;
        let rate = config.sample_rate();
        let channels = usize::from(config.channels().max(1));
        let format = config.sample_format();
        let shared = Arc::new(Mutex::new(Shared {
            samples: Vec::new(),
            arrived: Instant::now(),
            errors: StreamErrors::default(),
        }));
        let writer = Arc::clone(&shared);
        let failed = Arc::clone(&shared);
        let max_len = MAX_SECONDS as usize * rate as usize;
        let stream = device
            .build_input_stream_raw(
                config.config(),
                format,
                move |data: &Data, _: &_| {
                    let mono = to_mono(data, channels);
                    if let Ok(mut shared) = writer.lock() {
                        let room = max_len.saturating_sub(shared.samples.len());
                        shared.samples.extend(mono.into_iter().take(room));
                        shared.arrived = Instant::now();
                    }
                    on_data();
                },
                move |e| {
                    if let Ok(mut shared) = failed.lock() {
                        shared.errors.report(&e);
                    }
                },
                None,
            )
            .map_err(|e| format!("{name}: cannot open it for recording ({e})"))?;
        stream
            .play()
            .map_err(|e| format!("{name}: cannot start recording ({e})"))?;
        Ok(Recorder {
            stream,
            shared,
            rate,
            device: name,
        })
    }

    /// The device's sample rate (the recording's, before resampling).
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The device's name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The level of the last 100 ms, 0 (silence, −60 dBFS or less) to 1 (full scale).
    pub fn level(&self) -> f32 {
        level(&self.tail(self.rate as usize / 10))
    }

    /// Seconds recorded so far.
    pub fn seconds(&self) -> f64 {
        let len = self.shared.lock().map(|s| s.samples.len()).unwrap_or(0);
        len as f64 / self.rate.max(1) as f64
    }

    /// The last `n` samples (fewer at the start), for the live waveform and spectrogram.
    pub fn tail(&self, n: usize) -> Vec<f32> {
        self.shared
            .lock()
            .map(|s| s.samples[s.samples.len().saturating_sub(n)..].to_vec())
            .unwrap_or_default()
    }

    /// A stream error that ended the recording (the device was unplugged, ...), or a passing one
    /// after which no samples came for a few seconds; None while it records.
    pub fn error(&self) -> Option<String> {
        self.shared
            .lock()
            .ok()
            .and_then(|s| s.errors.verdict(s.arrived.elapsed() > STALL))
    }

    /// Stops and returns the recording (mono, at the device's rate).
    pub fn stop(self) -> AudioClip {
        let _ = self.stream.pause();
        drop(self.stream);
        let samples = self
            .shared
            .lock()
            .map(|mut s| std::mem::take(&mut s.samples))
            .unwrap_or_default();
        AudioClip {
            samples,
            rate: self.rate,
        }
    }
}

/// Mixes an interleaved cpal buffer of any common sample format to mono f32.
fn to_mono(data: &Data, channels: usize) -> Vec<f32> {
    match data.sample_format() {
        SampleFormat::F32 => data
            .as_slice::<f32>()
            .map(|d| mix(d, channels, |s| s))
            .unwrap_or_default(),
        SampleFormat::I16 => data
            .as_slice::<i16>()
            .map(|d| mix(d, channels, |s| f32::from(s) / 32768.0))
            .unwrap_or_default(),
        SampleFormat::I32 => data
            .as_slice::<i32>()
            .map(|d| mix(d, channels, |s| s as f32 / 2_147_483_648.0))
            .unwrap_or_default(),
        SampleFormat::U8 => data
            .as_slice::<u8>()
            .map(|d| mix(d, channels, |s| (f32::from(s) - 128.0) / 128.0))
            .unwrap_or_default(),
        SampleFormat::U16 => data
            .as_slice::<u16>()
            .map(|d| mix(d, channels, |s| (f32::from(s) - 32768.0) / 32768.0))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Averages interleaved frames of `channels` samples, converting each with `f`.
fn mix<T: Copy>(data: &[T], channels: usize, f: impl Fn(T) -> f32) -> Vec<f32> {
    data.chunks(channels)
        .map(|frame| frame.iter().map(|&s| f(s)).sum::<f32>() / channels as f32)
        .collect()
}

/// The meter's value for a buffer: RMS in dBFS mapped from −60…0 dB to 0…1.
pub fn level(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    let db = 20.0 * rms.max(1e-9).log10();
    ((db + 60.0) / 60.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_maps_dbfs_to_the_meter() {
        assert_eq!(level(&[]), 0.0);
        assert_eq!(level(&[0.0; 64]), 0.0);
        assert!((level(&[1.0, -1.0]) - 1.0).abs() < 1e-6);
        // −20 dBFS RMS → 2/3 of the meter.
        assert!((level(&[0.1, -0.1]) - 2.0 / 3.0).abs() < 1e-4);
    }

    #[test]
    fn buffers_mix_to_mono() {
        assert_eq!(mix(&[0.5f32, -0.5, 1.0, 0.0], 2, |s| s), [0.0, 0.5]);
        assert_eq!(
            mix(&[i16::MIN, 0], 1, |s| f32::from(s) / 32768.0),
            [-1.0, 0.0]
        );
    }
}
