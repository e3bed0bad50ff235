//! Audio test helpers: a private PulseAudio server (`scripts/audio-test-env.sh`: a null sink
//! whose monitor is the default capture source) and the cross-correlation that finds a played
//! clip inside a recording.
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Duration;

use hubble::media::audio::TARGET_RATE;
use hubble::media::audio_resample::resample_mono;
use hubble::media::fft::Fft;
use hubble::media::mic::Recorder;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/audio-test-env.sh")
}

/// A running private server; dropping it stops the server, pass or fail.
pub struct PulseServer {
    dir: tempfile::TempDir,
}

impl PulseServer {
    /// Starts the server and points this process's `PULSE_SERVER` at it (cpal reaches it through
    /// ALSA's pulse plugin). Without pulseaudio it says loudly that `test` is SKIPPED and gives
    /// None — or fails, where `HUBBLE_REQUIRE_AUDIO=1` says the machine must have it (CI and
    /// `scripts/test.sh` set it). Call it from the only test of its binary: it sets an
    /// environment variable.
    pub fn start(test: &str) -> Option<PulseServer> {
        if Command::new("pulseaudio")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("HUBBLE_REQUIRE_AUDIO").is_none_or(|v| v != "1"),
                "{test}: pulseaudio is not installed, and HUBBLE_REQUIRE_AUDIO=1 forbids skipping"
            );
            eprintln!(
                "\n*** SKIPPED {test}: pulseaudio is not installed.\n\
                 *** apt-get install pulseaudio libasound2-plugins alsa-utils (CI does) to run it.\n"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let started = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "audio-test-env.sh start failed: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        // SAFETY: the only test in its binary; nothing else reads the environment concurrently.
        unsafe {
            std::env::set_var(
                "PULSE_SERVER",
                format!("unix:{}/native", dir.path().display()),
            );
        }
        Some(PulseServer { dir })
    }

    /// Plays `wav` into the null sink with paplay; returns once paplay has drained its stream.
    pub fn play(&self, wav: &Path) {
        let played = Command::new(script())
            .arg("play")
            .arg(self.dir.path())
            .arg(wav)
            .status()
            .unwrap();
        assert!(played.success(), "paplay failed");
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// Starts recording the default input and returns once its samples arrive (the capture stream
/// takes a moment to run), or after 5 s.
pub fn start_recording() -> Recorder {
    let recorder = Recorder::start(None, || {}).expect("recording the default input starts");
    for _ in 0..100 {
        if recorder.seconds() > 0.2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    recorder
}

/// Waits `lag` (the monitor and ALSA's capture buffer lag behind the sink), stops `recorder`,
/// which must have had no stream error, and returns its recording at [`TARGET_RATE`].
pub fn finish_recording(recorder: Recorder, lag: Duration) -> Vec<f32> {
    std::thread::sleep(lag);
    assert!(recorder.error().is_none(), "{:?}", recorder.error());
    let clip = recorder.stop();
    eprintln!(
        "recorded {:.2} s at {} Hz",
        clip.samples.len() as f64 / f64::from(clip.rate),
        clip.rate
    );
    resample_mono(&clip.samples, clip.rate, TARGET_RATE).unwrap()
}

/// The lag of `source` inside `recorded` with the highest cross-correlation (via FFT), and the
/// normalised correlation of the two at that lag. `recorded` must be at least as long.
pub fn best_alignment(recorded: &[f32], source: &[f32]) -> (usize, f64) {
    let n = (recorded.len() + source.len()).next_power_of_two();
    let fft = Fft::new(n);
    let pad = |x: &[f32]| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = x.iter().map(|&s| (f64::from(s), 0.0)).collect();
        v.resize(n, (0.0, 0.0));
        v
    };
    let a = fft.run(&pad(recorded));
    let b = fft.run(&pad(source));
    // corr[k] = IFFT(A · conj(B)); the inverse via conj(FFT(conj(x))).
    let product: Vec<(f64, f64)> = a
        .iter()
        .zip(&b)
        .map(|((ar, ai), (br, bi))| (ar * br + ai * bi, -(ai * br - ar * bi)))
        .collect();
    let corr = fft.run(&product);
    let max_lag = recorded.len() - source.len();
    let lag = (0..=max_lag)
        .max_by(|&x, &y| corr[x].0.total_cmp(&corr[y].0))
        .unwrap_or(0);
    let segment = &recorded[lag..lag + source.len()];
    let dot: f64 = segment
        .iter()
        .zip(source)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum();
    let energy = |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
    (lag, dot / (energy(segment) * energy(source)).sqrt())
}
