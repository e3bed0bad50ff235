//! Segment playback against a real audio server: a private PulseAudio
//! (`scripts/audio-test-env.sh`) whose null sink is the default output and whose monitor is the
//! default capture source. A stretch of espeak-ng speech is played with [`Playback`] (cpal,
//! through ALSA's pulse plugin, converted to the device's rate and channels) while the
//! [`Recorder`] records the monitor: the recording must correlate with the played slice
//! (> 0.9 after alignment; the best of up to three plays, since a starved machine drops audio)
//! and its sound must last as long as the slice. Stop ends a playback
//! early, and an unknown device fails with a message. Without pulseaudio the test says so
//! loudly and skips (CI installs it: .ci/run).

#[path = "support/audio.rs"]
mod audio;

use std::path::Path;
use std::time::{Duration, Instant};

use audio::{PulseServer, best_alignment, finish_recording, start_recording};
use hubble::media::audio::{TARGET_RATE, load_16k_mono};
use hubble::media::playback::{Playback, PlaybackState, segment_range};

/// Waits (up to 10 s) for the playback to end and returns how it ended.
fn ended(playback: &Playback) -> PlaybackState {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = playback.state();
        if !matches!(
            state,
            PlaybackState::Starting | PlaybackState::Playing { .. }
        ) || Instant::now() > deadline
        {
            return state;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The span from the first to the last sample louder than 2 % of the peak, in samples.
fn sounding(x: &[f32]) -> usize {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let loud = |v: &f32| v.abs() > 0.02 * peak;
    match (x.iter().position(loud), x.iter().rposition(loud)) {
        (Some(first), Some(last)) => last - first + 1,
        _ => 0,
    }
}

/// Plays `slice` on the default output while recording the monitor; the recording (at
/// [`TARGET_RATE`]) once the sound has reached it.
fn play_and_record(slice: &[f32]) -> Vec<f32> {
    let recorder = start_recording();
    let started = Instant::now();
    let playback = Playback::start(slice.to_vec(), TARGET_RATE, None, || {});
    assert_eq!(ended(&playback), PlaybackState::Finished);
    let took = started.elapsed().as_secs_f64();
    eprintln!("the 2.2 s segment played in {took:.2} s");
    assert!(took >= 2.1, "ended after {took:.2} s, before the sound did");
    finish_recording(recorder, Duration::from_millis(800))
}

#[test]
fn a_segment_plays_on_the_default_output() {
    let Some(_server) = PulseServer::start("a_segment_plays_on_the_default_output") else {
        return;
    };
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/speech.wav");
    let speech = load_16k_mono(&wav).unwrap().samples;
    // 1.2–3.4 s of the 4.9 s: starts and ends inside the speech, not at the file's edges.
    let range = segment_range(speech.len(), TARGET_RATE, 1.2, 3.4);
    let slice = speech[range].to_vec();
    // A starved machine drops audio (xruns on either stream), so the best of three plays
    // counts; every figure is printed.
    let (mut recorded, mut lag, mut correlation) = (Vec::new(), 0, f64::MIN);
    for attempt in 1..=3 {
        let take = play_and_record(&slice);
        assert!(
            take.len() > slice.len(),
            "recording shorter than the segment"
        );
        let (take_lag, take_correlation) = best_alignment(&take, &slice);
        eprintln!(
            "play {attempt}: correlation {take_correlation:.4} at a lag of {take_lag} samples"
        );
        if take_correlation > correlation {
            (recorded, lag, correlation) = (take, take_lag, take_correlation);
        }
        if correlation > 0.9 {
            break;
        }
    }
    if let Some(dump) = std::env::var_os("HUBBLE_PLAYBACK_DUMP") {
        hubble::media::audio::write_wav(Path::new(&dump), &recorded, TARGET_RATE).unwrap();
    }
    assert!(correlation > 0.9, "correlation {correlation} at lag {lag}");
    // Only the slice played: the sound in the whole recording lasts as long as the slice's
    // (± 30 ms), not as long as the file's.
    let (heard, played) = (sounding(&recorded), sounding(&slice));
    eprintln!("sound lasts {heard} samples in the recording, {played} in the slice");
    assert!(
        heard.abs_diff(played) <= 480,
        "heard {heard} samples, played {played}"
    );

    // Stop ends a playback of the whole clip long before its 4.9 s.
    let started = Instant::now();
    let playback = Playback::start(speech.clone(), TARGET_RATE, None, || {});
    std::thread::sleep(Duration::from_millis(300));
    playback.stop();
    assert_eq!(ended(&playback), PlaybackState::Stopped);
    assert!(started.elapsed() < Duration::from_secs(2));

    // A device that is not there: a message, no panic.
    let playback = Playback::start(
        slice,
        TARGET_RATE,
        Some("alsa:hubble-no-such-device".into()),
        || {},
    );
    match ended(&playback) {
        PlaybackState::Failed(message) => {
            eprintln!("unknown device: {message}");
            assert!(message.contains("hubble-no-such-device"), "{message}");
        }
        other => panic!("an unknown device gave {other:?}"),
    }
}
