//! Playing a stretch of a clip (a transcript segment) on an output device with cpal.
//!
//! [`Playback::start`] returns at once: a thread of its own opens the device (the default
//! output, or one chosen by id), converts the mono samples to the device's rate (with
//! [`resample_mono`]), sample format and channel count, and holds the cpal stream until the
//! sound has played out, [`Playback::stop`] is called or the handle is dropped. What goes wrong
//! (no output device, a format Hubble cannot write, a stream error that ends the stream, or a
//! passing one after which no sound moves for [`STALL`]) ends in [`PlaybackState::Failed`] with
//! a message, never in a panic.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{Data, FromSample, OutputCallbackInfo, Sample, SampleFormat, SizedSample};

use super::audio_device::{AudioDevice, STALL, StreamErrors, device_by_id, listed};
use super::audio_resample::resample_mono;

/// How often the playback thread looks at the stream's progress and for a stop.
const TICK: Duration = Duration::from_millis(20);
/// Waited beyond the device's reported latency for the last buffer to play out.
const DRAIN_MARGIN: Duration = Duration::from_millis(150);
/// The longest wait for the last buffer (a device reporting an absurd latency).
const MAX_DRAIN: Duration = Duration::from_secs(2);

/// Where a playback is.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaybackState {
    /// Opening the device and converting the samples.
    Starting,
    /// Sound is going out.
    Playing {
        /// Seconds of the stretch handed to the device so far.
        seconds: f64,
    },
    /// Everything played out.
    Finished,
    /// Stopped (or replaced) before the end.
    Stopped,
    /// It could not play; the message says why and what to do.
    Failed(String),
}

/// What the playback thread, the audio callback and the handle share.
struct Shared {
    state: Mutex<PlaybackState>,
    /// Frames handed to the device.
    written: AtomicUsize,
    /// The device's latency from callback to sound, in microseconds (last callback).
    latency_us: AtomicU64,
    /// Stream errors, and an unwritable sample format (audio callback).
    errors: Mutex<StreamErrors>,
}

impl Shared {
    fn set(&self, state: PlaybackState) {
        if let Ok(mut current) = self.state.lock() {
            *current = state;
        }
    }

    fn errors(&self) -> std::sync::MutexGuard<'_, StreamErrors> {
        self.errors.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A playback in progress (or ended); dropping it stops the sound.
pub struct Playback {
    shared: Arc<Shared>,
    stop: Sender<()>,
}

impl Playback {
    /// Plays mono `samples` at `rate` Hz on the output device with cpal's id `device` (None:
    /// the default output). Returns at once; `on_change` is called from the playback thread when
    /// the sound starts and when it ends (the app passes `request_repaint`).
    pub fn start(
        samples: Vec<f32>,
        rate: u32,
        device: Option<String>,
        on_change: impl Fn() + Send + 'static,
    ) -> Playback {
        let shared = Arc::new(Shared {
            state: Mutex::new(PlaybackState::Starting),
            written: AtomicUsize::new(0),
            latency_us: AtomicU64::new(0),
            errors: Mutex::new(StreamErrors::default()),
        });
        let (stop, stopped) = channel();
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("hubble-playback".into())
            .spawn(move || {
                let end = play(
                    &samples,
                    rate,
                    device.as_deref(),
                    &thread_shared,
                    &stopped,
                    &on_change,
                )
                .unwrap_or_else(PlaybackState::Failed);
                thread_shared.set(end);
                on_change();
            });
        if let Err(e) = spawned {
            shared.set(PlaybackState::Failed(format!(
                "cannot start the playback thread ({e})"
            )));
        }
        Playback { shared, stop }
    }

    /// Where it is now.
    pub fn state(&self) -> PlaybackState {
        self.shared
            .state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(PlaybackState::Stopped)
    }

    /// Stops the sound; the thread closes the stream within a few milliseconds.
    pub fn stop(&self) {
        let _ = self.stop.send(());
    }
}

/// Lists the host's output devices (the default first). No devices is an empty list, not an
/// error.
pub fn output_devices() -> Vec<AudioDevice> {
    let host = cpal::default_host();
    listed(host.output_devices(), host.default_output_device())
}

/// The samples of `[start, end)` seconds of a clip of `len` samples at `rate` Hz, clamped to the
/// clip (empty when the stretch lies outside it or ends before it starts).
pub fn segment_range(len: usize, rate: u32, start: f64, end: f64) -> Range<usize> {
    let at = |t: f64| ((t.max(0.0) * f64::from(rate)).round() as usize).min(len);
    let from = at(start);
    from..at(end).max(from)
}

/// The playback thread: device, conversion, stream, then waiting for the end or a stop.
fn play(
    samples: &[f32],
    rate: u32,
    id: Option<&str>,
    shared: &Arc<Shared>,
    stop: &Receiver<()>,
    on_change: &dyn Fn(),
) -> Result<PlaybackState, String> {
    let host = cpal::default_host();
    let device = match id {
        Some(id) => device_by_id(&host, id)?,
        None => host.default_output_device().ok_or(
            "no speaker or other output device found: connect one or check the system's sound settings",
        )?,
    };
    let name = device.to_string();
    let config = device
        .default_output_config()
        .map_err(|e| format!("{name}: cannot read its output format ({e})"))?;
    let device_rate = config.sample_rate();
    let channels = usize::from(config.channels().max(1));
    let source = resample_mono(samples, rate, device_rate)?;
    let total = source.len();
    let writer = Arc::clone(shared);
    let failed = Arc::clone(shared);
    let mut position = 0;
    let stream = device
        .build_output_stream_raw(
            config.config(),
            config.sample_format(),
            move |data: &mut Data, info: &OutputCallbackInfo| {
                let stamp = info.timestamp();
                let latency = stamp.playback.saturating_duration_since(stamp.callback);
                writer
                    .latency_us
                    .store(latency.as_micros() as u64, Ordering::Relaxed);
                if !write(data, channels, &source, &mut position) {
                    writer.errors().end(format!(
                        "the device takes {:?} samples, which Hubble cannot write",
                        data.sample_format()
                    ));
                }
                writer.written.store(position, Ordering::Relaxed);
            },
            move |e| failed.errors().report(&e),
            None,
        )
        .map_err(|e| format!("{name}: cannot open it for playback ({e})"))?;
    stream
        .play()
        .map_err(|e| format!("{name}: cannot start playback ({e})"))?;
    shared.set(PlaybackState::Playing { seconds: 0.0 });
    on_change();
    let (mut moved, mut moved_at) = (0, Instant::now());
    loop {
        match stop.recv_timeout(TICK) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(PlaybackState::Stopped),
            Err(RecvTimeoutError::Timeout) => {}
        }
        let written = shared.written.load(Ordering::Relaxed);
        if written != moved {
            (moved, moved_at) = (written, Instant::now());
        }
        let stalled = moved_at.elapsed() > STALL;
        if let Some(error) = shared.errors().verdict(stalled) {
            return Err(format!("{name}: {error}"));
        }
        if stalled {
            return Err(format!("{name}: the device stopped taking sound"));
        }
        shared.set(PlaybackState::Playing {
            seconds: written as f64 / f64::from(device_rate.max(1)),
        });
        if written >= total {
            break;
        }
    }
    // The last buffers are still on their way through the device: let them play out.
    let latency = Duration::from_micros(shared.latency_us.load(Ordering::Relaxed));
    match stop.recv_timeout((latency + DRAIN_MARGIN).min(MAX_DRAIN)) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => Ok(PlaybackState::Stopped),
        Err(RecvTimeoutError::Timeout) => Ok(PlaybackState::Finished),
    }
}

/// Fills a cpal output buffer of any common sample format; false for a format it cannot write.
fn write(data: &mut Data, channels: usize, source: &[f32], position: &mut usize) -> bool {
    match data.sample_format() {
        SampleFormat::F32 => fill::<f32>(data, channels, source, position),
        SampleFormat::F64 => fill::<f64>(data, channels, source, position),
        SampleFormat::I8 => fill::<i8>(data, channels, source, position),
        SampleFormat::I16 => fill::<i16>(data, channels, source, position),
        SampleFormat::I32 => fill::<i32>(data, channels, source, position),
        SampleFormat::U8 => fill::<u8>(data, channels, source, position),
        SampleFormat::U16 => fill::<u16>(data, channels, source, position),
        SampleFormat::U32 => fill::<u32>(data, channels, source, position),
        _ => false,
    }
}

fn fill<T: SizedSample + FromSample<f32>>(
    data: &mut Data,
    channels: usize,
    source: &[f32],
    position: &mut usize,
) -> bool {
    match data.as_slice_mut::<T>() {
        Some(out) => {
            fill_frames(out, channels, source, position);
            true
        }
        None => false,
    }
}

/// Writes interleaved frames of `channels` samples: the mono sample at `position` (clamped to
/// [-1, 1]) on every channel, then silence once `source` is used up; advances `position`.
fn fill_frames<T: Sample + FromSample<f32>>(
    out: &mut [T],
    channels: usize,
    source: &[f32],
    position: &mut usize,
) {
    for frame in out.chunks_mut(channels.max(1)) {
        let value = source.get(*position).map_or(0.0, |s| s.clamp(-1.0, 1.0));
        *position = (*position + 1).min(source.len());
        frame.fill(T::from_sample(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_become_clamped_sample_ranges() {
        assert_eq!(segment_range(48_000, 16_000, 1.2, 2.5), 19_200..40_000);
        assert_eq!(segment_range(16_000, 16_000, 0.5, 9.0), 8_000..16_000);
        assert_eq!(segment_range(16_000, 16_000, -1.0, 0.25), 0..4_000);
        assert_eq!(segment_range(16_000, 16_000, 3.0, 4.0), 16_000..16_000);
        assert_eq!(segment_range(16_000, 16_000, 0.5, 0.2), 8_000..8_000);
        assert_eq!(segment_range(16_000, 16_000, f64::NAN, 0.5), 0..8_000);
    }

    #[test]
    fn frames_repeat_the_mono_sample_on_every_channel_then_go_silent() {
        let mut out = [1.0f32; 6];
        let mut position = 0;
        fill_frames(&mut out, 2, &[0.5, -2.0], &mut position);
        assert_eq!(out, [0.5, 0.5, -1.0, -1.0, 0.0, 0.0]);
        assert_eq!(position, 2);

        let mut out = [0i16; 3];
        let mut position = 1;
        fill_frames(&mut out, 1, &[0.0, 0.5, -1.0, 1.0], &mut position);
        assert_eq!(out, [16_384, -32_768, 32_767]);
        assert_eq!(position, 4);

        // Unsigned formats centre silence at half scale.
        let mut out = [0u8; 2];
        let mut position = 0;
        fill_frames(&mut out, 1, &[], &mut position);
        assert_eq!(out, [128, 128]);
        assert_eq!(position, 0);
    }
}
