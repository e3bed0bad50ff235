//! The microphone path against a real audio server: a private PulseAudio
//! (`scripts/audio-test-env.sh`) with a null sink whose monitor is the default capture source;
//! cpal records its default input through ALSA's pulse plugin while espeak-ng speech plays into
//! the sink, and the recording must correlate with the source (> 0.9 after alignment).
//! Without pulseaudio the test says so loudly and skips (CI installs it: .ci/run).

#[path = "support/audio.rs"]
mod audio;

use std::path::Path;
use std::time::Duration;

use audio::{PulseServer, best_alignment, finish_recording, start_recording};
use hubble::media::audio::load_16k_mono;
use hubble::media::mic::input_devices;

#[test]
fn the_microphone_records_what_pulseaudio_plays() {
    let Some(server) = PulseServer::start("the_microphone_records_what_pulseaudio_plays") else {
        return;
    };
    let devices = input_devices();
    assert!(
        !devices.is_empty(),
        "cpal sees no input device through ALSA's pulse plugin"
    );
    eprintln!("input devices: {devices:?}");

    let recorder = start_recording();
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/speech.wav");
    server.play(&wav);
    // paplay returns once its stream is drained; the monitor and ALSA buffers lag behind.
    let recorded = finish_recording(recorder, Duration::from_millis(1500));
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
