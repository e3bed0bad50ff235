//! The microphone path against a real audio server: a private PulseAudio
//! (`scripts/audio-test-env.sh`) with a null sink whose monitor is the default capture source;
//! cpal records its default input through ALSA's pulse plugin while espeak-ng speech plays into
//! the sink, and the recording must correlate with the source (> 0.9 after alignment).
//! Without pulseaudio the test says so loudly and skips (CI installs it: .ci/run).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hubble::infer::whisper_mel::Fft;
use hubble::media::audio::load_16k_mono;
use hubble::media::audio_resample::resample_mono;
use hubble::media::mic::{Recorder, input_devices};

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/audio-test-env.sh")
}

/// Stops the server when the test ends, pass or fail.
struct Server(std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.0).status();
    }
}

#[test]
fn the_microphone_records_what_pulseaudio_plays() {
    if Command::new("pulseaudio")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "\n*** SKIPPED the_microphone_records_what_pulseaudio_plays: pulseaudio is not installed.\n\
             *** apt-get install pulseaudio libasound2-plugins alsa-utils (CI does) to run it.\n"
        );
        return;
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
    let _server = Server(dir.path().to_path_buf());
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var(
            "PULSE_SERVER",
            format!("unix:{}/native", dir.path().display()),
        );
    }
    let devices = input_devices();
    assert!(
        !devices.is_empty(),
        "cpal sees no input device through ALSA's pulse plugin"
    );
    eprintln!("input devices: {devices:?}");

    let recorder = Recorder::start(None, || {}).expect("recording starts");
    // The capture stream takes a moment to run: start playing only once samples arrive.
    for _ in 0..100 {
        if recorder.seconds() > 0.2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/speech.wav");
    let played = Command::new(script())
        .arg("play")
        .arg(dir.path())
        .arg(&wav)
        .status()
        .unwrap();
    assert!(played.success(), "paplay failed");
    // paplay returns once its stream is drained; the monitor and ALSA buffers lag behind.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(recorder.level() >= 0.0);
    assert!(recorder.error().is_none(), "{:?}", recorder.error());
    let clip = recorder.stop();
    eprintln!(
        "recorded {:.2} s at {} Hz",
        clip.samples.len() as f64 / f64::from(clip.rate),
        clip.rate
    );
    let recorded = resample_mono(&clip.samples, clip.rate, 16_000).unwrap();
    let source = load_16k_mono(&wav).unwrap().samples;
    if let Some(dump) = std::env::var_os("HUBBLE_MIC_DUMP") {
        hubble::media::audio::write_wav(Path::new(&dump), &recorded, 16_000).unwrap();
    }
    assert!(
        recorded.len() > source.len(),
        "recording shorter than the speech"
    );
    let (lag, correlation) = best_alignment(&recorded, &source);
    eprintln!("correlation {correlation:.4} at a lag of {lag} samples");
    assert!(correlation > 0.9, "correlation {correlation} at lag {lag}");
}

/// The lag of `source` inside `recorded` with the highest cross-correlation (via FFT), and the
/// normalised correlation of the two at that lag.
fn best_alignment(recorded: &[f32], source: &[f32]) -> (usize, f64) {
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
