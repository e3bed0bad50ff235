//! Whisper's log-mel front end, computed as transformers' `WhisperFeatureExtractor` does:
//! 16 kHz audio padded to 30 s, a centred STFT (400-point periodic Hann window, hop 160,
//! reflect padding), power spectrum, Slaney mel filters (80 or 128 bins, 0–8 kHz),
//! `log10(max(x, 1e-10))`, the last frame dropped, clamped to `max − 8`, then `(x + 4) / 4`.

use crate::media::fft::Fft;

/// Samples per second.
pub const SAMPLE_RATE: usize = 16_000;
/// FFT size / window length.
pub const N_FFT: usize = 400;
/// Hop between frames.
pub const HOP: usize = 160;
/// Samples in one 30-second window.
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Mel frames in one window.
pub const N_FRAMES: usize = N_SAMPLES / HOP;

/// Hertz → mel on the Slaney scale (linear below 1 kHz, logarithmic above).
pub fn hz_to_mel(hz: f64) -> f64 {
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = 15.0;
    let logstep = 27.0 / 6.4f64.ln();
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() * logstep
    } else {
        3.0 * hz / 200.0
    }
}

/// Mel → hertz on the Slaney scale.
pub fn mel_to_hz(mel: f64) -> f64 {
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = 15.0;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep * (mel - MIN_LOG_MEL)).exp()
    } else {
        200.0 * mel / 3.0
    }
}

/// Triangular mel filters with Slaney area normalisation, `n_mels × (N_FFT / 2 + 1)`, row-major
/// (one row per mel bin), spanning 0 Hz to the Nyquist frequency.
pub fn mel_filters(n_mels: usize) -> Vec<f64> {
    let n_freqs = N_FFT / 2 + 1;
    let nyquist = (SAMPLE_RATE / 2) as f64;
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(nyquist));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut filters = vec![0.0; n_mels * n_freqs];
    for m in 0..n_mels {
        let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
        let norm = 2.0 / (right - left);
        for k in 0..n_freqs {
            let f = nyquist * k as f64 / (n_freqs - 1) as f64;
            let down = (f - left) / (centre - left);
            let up = (right - f) / (right - centre);
            filters[m * n_freqs + k] = down.min(up).max(0.0) * norm;
        }
    }
    filters
}

/// Computes log-mel features for one window: `samples` (16 kHz mono) are cut or zero-padded
/// to 30 s; returns `n_mels × N_FRAMES` values, row-major.
pub struct LogMel {
    n_mels: usize,
    filters: Vec<f64>,
    window: Vec<f64>,
    fft: Fft,
}

impl LogMel {
    /// A front end with `n_mels` bins (80 for Whisper up to large-v2, 128 for large-v3).
    pub fn new(n_mels: usize) -> LogMel {
        LogMel {
            n_mels,
            filters: mel_filters(n_mels),
            window: (0..N_FFT)
                .map(|n| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / N_FFT as f64).cos())
                .collect(),
            fft: Fft::new(N_FFT),
        }
    }

    /// The number of mel bins.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Log-mel features of one 30-second window (see the module docs).
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let mut audio = vec![0.0f64; N_SAMPLES];
        for (dst, src) in audio.iter_mut().zip(samples) {
            *dst = f64::from(*src);
        }
        let power = self.power_spectrogram(&audio);
        let n_freqs = N_FFT / 2 + 1;
        let mut mel = vec![0.0f64; self.n_mels * N_FRAMES];
        for m in 0..self.n_mels {
            let filter = &self.filters[m * n_freqs..(m + 1) * n_freqs];
            for t in 0..N_FRAMES {
                let frame = &power[t * n_freqs..(t + 1) * n_freqs];
                let energy: f64 = filter.iter().zip(frame).map(|(a, b)| a * b).sum();
                mel[m * N_FRAMES + t] = energy.max(1e-10).log10();
            }
        }
        let max = mel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mel.iter()
            .map(|&x| ((x.max(max - 8.0) + 4.0) / 4.0) as f32)
            .collect()
    }

    /// |STFT|² of the centred, reflect-padded signal: `N_FRAMES` frames (the STFT's last one
    /// is dropped, as Whisper does) × `N_FFT / 2 + 1` bins.
    fn power_spectrogram(&self, audio: &[f64]) -> Vec<f64> {
        let pad = N_FFT / 2;
        let n = audio.len();
        let reflect = |i: isize| -> f64 {
            let i = if i < 0 {
                -i
            } else if i as usize >= n {
                2 * (n as isize - 1) - i
            } else {
                i
            };
            audio[i.clamp(0, n as isize - 1) as usize]
        };
        let n_freqs = N_FFT / 2 + 1;
        let mut out = vec![0.0; N_FRAMES * n_freqs];
        let mut frame = vec![(0.0, 0.0); N_FFT];
        for t in 0..N_FRAMES {
            let start = (t * HOP) as isize - pad as isize;
            for (j, slot) in frame.iter_mut().enumerate() {
                *slot = (reflect(start + j as isize) * self.window[j], 0.0);
            }
            let spectrum = self.fft.run(&frame);
            for (k, (re, im)) in spectrum.iter().take(n_freqs).enumerate() {
                out[t * n_freqs + k] = re * re + im * im;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_filters_are_area_normalised() {
        for hz in [0.0, 500.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        for n_mels in [80, 128] {
            let f = mel_filters(n_mels);
            assert_eq!(f.len(), n_mels * 201);
            assert!(f.iter().all(|v| *v >= 0.0));
            // Every filter has some weight on the frequency grid.
            assert!(f.chunks(201).all(|row| row.iter().any(|v| *v > 0.0)));
        }
    }

    #[test]
    fn silence_is_flat_and_a_tone_peaks_in_its_band() {
        let mel = LogMel::new(80);
        let silence = mel.compute(&[]);
        assert_eq!(silence.len(), 80 * N_FRAMES);
        assert!(silence.iter().all(|v| (*v - silence[0]).abs() < 1e-6));
        let tone: Vec<f32> = (0..SAMPLE_RATE)
            .map(|i| (std::f32::consts::TAU * 440.0 * i as f32 / SAMPLE_RATE as f32).sin())
            .collect();
        let features = mel.compute(&tone);
        let frame = 50;
        let peak = (0..80)
            .max_by(|&a, &b| {
                features[a * N_FRAMES + frame].total_cmp(&features[b * N_FRAMES + frame])
            })
            .unwrap();
        let centre = mel_to_hz(hz_to_mel(8000.0) * (peak + 1) as f64 / 81.0);
        assert!(
            (centre - 440.0).abs() < 60.0,
            "peak bin {peak} at {centre} Hz"
        );
    }
}
