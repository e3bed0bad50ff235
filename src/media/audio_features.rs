//! The feature extractors of transformers' audio classifiers, read from preprocessor_config.json:
//!
//! - `Wav2Vec2FeatureExtractor` (wav2vec2, HuBERT): the 16 kHz waveform itself, scaled to zero
//!   mean and unit variance (`(x − mean) / √(var + 1e-7)`) when `do_normalize` is set.
//! - `ASTFeatureExtractor` (Audio Spectrogram Transformer): Kaldi-style log-mel filter banks as
//!   transformers computes them without torchaudio (`audio_utils.spectrogram`): 25 ms frames
//!   every 10 ms (400 / 160 samples, no centring, partial frames dropped), the frame's mean
//!   removed, pre-emphasis 0.97, a symmetric Hann window, a 512-point FFT, the power spectrum
//!   through `num_mel_bins` triangular filters on the Kaldi mel scale (20 Hz – 8 kHz), natural
//!   log floored at `f32::EPSILON`; then cut or zero-padded to `max_length` frames and
//!   normalised as `(x − mean) / (2·std)`. (With torchaudio installed, transformers calls
//!   `torchaudio.compliance.kaldi.fbank` with the same settings instead; the two agree to
//!   float rounding.)
//!
//! Pure functions over `f32` samples at 16 kHz; errors are messages for the caller to wrap.

use serde_json::Value;

use super::fft::Fft;

/// The sample rate both extractors are built for (Hubble decodes audio to this rate).
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples in one filter-bank frame (25 ms).
pub const FRAME_LENGTH: usize = 400;
/// Samples between filter-bank frames (10 ms).
pub const FRAME_SHIFT: usize = 160;
/// The FFT size (the frame zero-padded to a power of two).
pub const FFT_LENGTH: usize = 512;
const PREEMPHASIS: f64 = 0.97;
const LOW_FREQUENCY: f64 = 20.0;
/// `np.finfo(np.float32).eps`, the floor under the mel energies before the log.
const MEL_FLOOR: f64 = f32::EPSILON as f64;

/// Features ready for a model, without the batch dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFeatures {
    /// The values, row-major.
    pub values: Vec<f32>,
    /// `[samples]` for a waveform, `[frames, mel bins]` for filter banks.
    pub shape: Vec<usize>,
}

/// A parsed preprocessor_config.json of an audio classifier.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioFeatureExtractor {
    /// `Wav2Vec2FeatureExtractor`: the waveform, normalised per clip when `do_normalize` is set.
    Waveform {
        /// `do_normalize` (default true).
        do_normalize: bool,
    },
    /// `ASTFeatureExtractor`: normalised Kaldi filter banks.
    Fbank(FbankConfig),
}

/// `ASTFeatureExtractor`'s settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FbankConfig {
    /// Mel bins per frame (default 128).
    pub num_mel_bins: usize,
    /// Frames after padding or truncation (default 1024).
    pub max_length: usize,
    /// `do_normalize` with `mean` and `std` (defaults: AudioSet's −4.2677393 and 4.5689974).
    pub normalize: Option<(f64, f64)>,
}

impl AudioFeatureExtractor {
    /// Parses the JSON by its `feature_extractor_type`; missing keys take the class defaults.
    pub fn from_json(json: &Value) -> Result<AudioFeatureExtractor, String> {
        let kind = json
            .get("feature_extractor_type")
            .and_then(Value::as_str)
            .ok_or("preprocessor_config.json has no feature_extractor_type")?;
        let rate = json
            .get("sampling_rate")
            .and_then(Value::as_u64)
            .unwrap_or(u64::from(SAMPLE_RATE));
        if rate != u64::from(SAMPLE_RATE) {
            return Err(format!(
                "the feature extractor expects {rate} Hz audio; Hubble only runs audio models trained on 16 kHz"
            ));
        }
        let flag = |key: &str| json.get(key).and_then(Value::as_bool).unwrap_or(true);
        let number =
            |key: &str, default: f64| json.get(key).and_then(Value::as_f64).unwrap_or(default);
        let count = |key: &str, default: u64| -> Result<usize, String> {
            match json.get(key).and_then(Value::as_u64).unwrap_or(default) {
                0 => Err(format!("{key} must be at least 1")),
                n => usize::try_from(n).map_err(|_| format!("{key} {n} is too large")),
            }
        };
        match kind {
            "Wav2Vec2FeatureExtractor" => Ok(AudioFeatureExtractor::Waveform {
                do_normalize: flag("do_normalize"),
            }),
            "ASTFeatureExtractor" => Ok(AudioFeatureExtractor::Fbank(FbankConfig {
                num_mel_bins: count("num_mel_bins", 128)?,
                max_length: count("max_length", 1024)?,
                normalize: flag("do_normalize")
                    .then(|| (number("mean", -4.267_739_3), number("std", 4.568_997_4))),
            })),
            other => Err(format!(
                "the feature extractor {other} is not supported yet (Wav2Vec2FeatureExtractor and ASTFeatureExtractor are)"
            )),
        }
    }

    /// The model input for one clip of 16 kHz mono samples.
    pub fn extract(&self, samples: &[f32]) -> Result<AudioFeatures, String> {
        if samples.is_empty() {
            return Err("the audio has no samples".into());
        }
        Ok(match self {
            AudioFeatureExtractor::Waveform { do_normalize } => AudioFeatures {
                values: if *do_normalize {
                    zero_mean_unit_variance(samples)
                } else {
                    samples.to_vec()
                },
                shape: vec![samples.len()],
            },
            AudioFeatureExtractor::Fbank(config) => AudioFeatures {
                values: KaldiFbank::new(config.num_mel_bins).normalised(samples, config),
                shape: vec![config.max_length, config.num_mel_bins],
            },
        })
    }
}

/// `(x − mean) / √(var + 1e-7)` over the clip, as `Wav2Vec2FeatureExtractor` normalises.
pub fn zero_mean_unit_variance(samples: &[f32]) -> Vec<f32> {
    let n = samples.len().max(1) as f64;
    let mean = samples.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = samples
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = (var + 1e-7).sqrt();
    samples
        .iter()
        .map(|&x| ((f64::from(x) - mean) / scale) as f32)
        .collect()
}

/// Hertz → mel on the Kaldi (natural log, HTK-shaped) scale.
pub fn kaldi_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// Kaldi log-mel filter banks (see the module docs) for 16 kHz audio.
pub struct KaldiFbank {
    num_mel_bins: usize,
    /// `num_mel_bins × (FFT_LENGTH / 2 + 1)`, row-major.
    filters: Vec<f64>,
    window: Vec<f64>,
    fft: Fft,
}

impl KaldiFbank {
    /// Filter banks with `num_mel_bins` triangles.
    pub fn new(num_mel_bins: usize) -> KaldiFbank {
        KaldiFbank {
            num_mel_bins,
            filters: kaldi_mel_filters(num_mel_bins),
            window: (0..FRAME_LENGTH)
                .map(|n| {
                    let phase = std::f64::consts::TAU * n as f64 / (FRAME_LENGTH - 1) as f64;
                    0.5 - 0.5 * phase.cos()
                })
                .collect(),
            fft: Fft::new(FFT_LENGTH),
        }
    }

    /// Log-mel energies, `frames × num_mel_bins` row-major, one frame per [`FRAME_SHIFT`]
    /// samples that has a whole [`FRAME_LENGTH`] window (none for shorter clips).
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let frames = frame_count(samples.len());
        let n_freqs = FFT_LENGTH / 2 + 1;
        let mut out = Vec::with_capacity(frames * self.num_mel_bins);
        let mut power = vec![0.0f64; n_freqs];
        for t in 0..frames {
            let frame = &samples[t * FRAME_SHIFT..t * FRAME_SHIFT + FRAME_LENGTH];
            let mut buffer: Vec<f64> = frame.iter().map(|&x| f64::from(x)).collect();
            let mean = buffer.iter().sum::<f64>() / FRAME_LENGTH as f64;
            buffer.iter_mut().for_each(|x| *x -= mean);
            for i in (1..FRAME_LENGTH).rev() {
                buffer[i] -= PREEMPHASIS * buffer[i - 1];
            }
            buffer[0] *= 1.0 - PREEMPHASIS;
            let mut input = vec![(0.0, 0.0); FFT_LENGTH];
            for ((slot, x), w) in input.iter_mut().zip(&buffer).zip(&self.window) {
                slot.0 = x * w;
            }
            for (p, (re, im)) in power.iter_mut().zip(self.fft.run(&input)) {
                // transformers stores the spectrum as complex64 before taking |X|².
                let (re, im) = (f64::from(re as f32), f64::from(im as f32));
                *p = re * re + im * im;
            }
            for filter in self.filters.chunks(n_freqs) {
                let energy: f64 = filter.iter().zip(&power).map(|(f, p)| f * p).sum();
                out.push(energy.max(MEL_FLOOR).ln() as f32);
            }
        }
        out
    }

    /// [`compute`](Self::compute), cut or zero-padded to `config.max_length` frames, then
    /// `(x − mean) / (2·std)` in `f32` when the config normalises.
    fn normalised(&self, samples: &[f32], config: &FbankConfig) -> Vec<f32> {
        let mut values = self.compute(samples);
        values.resize(config.max_length * self.num_mel_bins, 0.0);
        if let Some((mean, std)) = config.normalize {
            let (mean, scale) = (mean as f32, (std * 2.0) as f32);
            values.iter_mut().for_each(|x| *x = (*x - mean) / scale);
        }
        values
    }
}

/// Whole frames in a clip of `n` samples.
pub fn frame_count(n: usize) -> usize {
    if n < FRAME_LENGTH {
        0
    } else {
        1 + (n - FRAME_LENGTH) / FRAME_SHIFT
    }
}

/// `num_mel_bins` triangles with corners equally spaced on the Kaldi mel scale from 20 Hz to
/// 8 kHz, drawn in mel space over the FFT bins (transformers' `mel_filter_bank` with
/// `mel_scale="kaldi"`, `triangularize_in_mel_space=True`, no area normalisation). Row-major,
/// one row of `FFT_LENGTH / 2 + 1` weights per bin. The lowest filters can be all zero when
/// they fall between two FFT bins (128 bins at 16 kHz), as in transformers.
pub fn kaldi_mel_filters(num_mel_bins: usize) -> Vec<f64> {
    let n_freqs = FFT_LENGTH / 2 + 1;
    let (low, high) = (
        kaldi_mel(LOW_FREQUENCY),
        kaldi_mel(f64::from(SAMPLE_RATE / 2)),
    );
    let step = (high - low) / (num_mel_bins + 1) as f64;
    let edges: Vec<f64> = (0..num_mel_bins + 2)
        .map(|i| {
            if i == num_mel_bins + 1 {
                high
            } else {
                low + i as f64 * step
            }
        })
        .collect();
    let bin_width = f64::from(SAMPLE_RATE) / FFT_LENGTH as f64;
    let bins: Vec<f64> = (0..n_freqs)
        .map(|k| kaldi_mel(bin_width * k as f64))
        .collect();
    let mut filters = vec![0.0; num_mel_bins * n_freqs];
    for (m, row) in filters.chunks_mut(n_freqs).enumerate() {
        let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
        for (weight, mel) in row.iter_mut().zip(&bins) {
            let down = (mel - left) / (centre - left);
            let up = (right - mel) / (right - centre);
            *weight = down.min(up).max(0.0);
        }
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (std::f32::consts::TAU * hz * i as f32 / SAMPLE_RATE as f32).sin())
            .collect()
    }

    #[test]
    fn waveform_normalisation_gives_zero_mean_unit_variance() {
        let x = tone(300.0, 1600)
            .iter()
            .map(|v| v + 0.25)
            .collect::<Vec<_>>();
        let y = zero_mean_unit_variance(&x);
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
        let var = y.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / y.len() as f64;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{mean} {var}"
        );
        // Silence stays finite (the 1e-7 under the square root).
        assert!(
            zero_mean_unit_variance(&[0.0; 10])
                .iter()
                .all(|v| *v == 0.0)
        );
    }

    #[test]
    fn parses_both_extractors_and_refuses_others() {
        let ast: Value = serde_json::json!({
            "feature_extractor_type": "ASTFeatureExtractor", "num_mel_bins": 32, "max_length": 64
        });
        assert_eq!(
            AudioFeatureExtractor::from_json(&ast).unwrap(),
            AudioFeatureExtractor::Fbank(FbankConfig {
                num_mel_bins: 32,
                max_length: 64,
                normalize: Some((-4.267_739_3, 4.568_997_4)),
            })
        );
        let w2v = serde_json::json!({"feature_extractor_type": "Wav2Vec2FeatureExtractor"});
        assert_eq!(
            AudioFeatureExtractor::from_json(&w2v).unwrap(),
            AudioFeatureExtractor::Waveform { do_normalize: true }
        );
        for bad in [
            serde_json::json!({"feature_extractor_type": "WhisperFeatureExtractor"}),
            serde_json::json!({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "sampling_rate": 8000}),
            serde_json::json!({"feature_extractor_type": "ASTFeatureExtractor", "num_mel_bins": 0}),
            serde_json::json!({}),
        ] {
            assert!(AudioFeatureExtractor::from_json(&bad).is_err(), "{bad}");
        }
        assert!(
            AudioFeatureExtractor::Waveform { do_normalize: true }
                .extract(&[])
                .is_err()
        );
    }

    #[test]
    fn fbank_frames_pad_and_a_tone_peaks_in_its_band() {
        let config = FbankConfig {
            num_mel_bins: 64,
            max_length: 120,
            normalize: None,
        };
        let features = AudioFeatureExtractor::Fbank(config.clone())
            .extract(&tone(1000.0, 16_000))
            .unwrap();
        assert_eq!(features.shape, vec![120, 64]);
        assert_eq!(frame_count(16_000), 98);
        // Frames past the clip are zero (the padding comes before normalisation).
        assert!(features.values[98 * 64..].iter().all(|v| *v == 0.0));
        let frame = &features.values[50 * 64..51 * 64];
        let peak = (0..64)
            .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
            .unwrap();
        let filters = kaldi_mel_filters(64);
        let centre_bin = (0..257)
            .max_by(|&a, &b| filters[peak * 257 + a].total_cmp(&filters[peak * 257 + b]))
            .unwrap();
        let centre_hz = centre_bin as f64 * 31.25;
        assert!((centre_hz - 1000.0).abs() < 100.0, "peak at {centre_hz} Hz");
        // A clip shorter than one frame is all padding.
        assert_eq!(KaldiFbank::new(8).compute(&[0.1; 399]).len(), 0);
    }

    #[test]
    fn kaldi_filters_are_triangles_within_the_band() {
        let filters = kaldi_mel_filters(128);
        assert!(filters.iter().all(|w| (0.0..=1.0).contains(w)));
        // Nothing below 20 Hz (bin 0) or at Nyquist (bin 256).
        assert!(
            filters
                .chunks(257)
                .all(|row| row[0] == 0.0 && row[256] == 0.0)
        );
        assert!((kaldi_mel(700.0) - 1127.0 * 2f64.ln()).abs() < 1e-9);
    }
}
