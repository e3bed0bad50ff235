//! Audio files → mono f32 at 16 kHz (what speech models take), with symphonia decoding WAV,
//! FLAC, MP3, Ogg/Vorbis and M4A/AAC. Hostile input gives an [`AudioError`], never a panic or an
//! unbounded allocation: decoding stops at [`MAX_SECONDS`].

use std::fs::File;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::audio_resample::resample_mono;

/// The sample rate speech models (Whisper) take.
pub const TARGET_RATE: u32 = 16_000;
/// The longest audio decoded (2 hours); longer files are refused rather than filling memory.
pub const MAX_SECONDS: u64 = 2 * 60 * 60;
/// The formats this build decodes, for messages and file dialogs.
pub const EXTENSIONS: [&str; 8] = ["wav", "flac", "mp3", "ogg", "oga", "m4a", "aac", "mp4"];

/// Decoded audio: mono samples in [-1, 1] at `rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioClip {
    /// Mono samples.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub rate: u32,
}

impl AudioClip {
    /// The length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.rate.max(1) as f64
    }
}

/// Why an audio file could not be decoded; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Not a format this build decodes, or a broken header.
    #[error(
        "{path}: not a readable audio file ({message}); use WAV, FLAC, MP3, Ogg/Vorbis or M4A/AAC"
    )]
    Unsupported {
        /// The file.
        path: String,
        /// The decoder's reason.
        message: String,
    },
    /// Nothing could be decoded (empty or entirely corrupt audio).
    #[error("{path}: no audio could be decoded ({message}); the file may be empty or damaged")]
    Empty {
        /// The file.
        path: String,
        /// The last decoder error, if any.
        message: String,
    },
    /// Longer than [`MAX_SECONDS`].
    #[error("{path}: longer than {} hours; cut it into shorter files", MAX_SECONDS / 3600)]
    TooLong {
        /// The file.
        path: String,
    },
    /// Resampling failed.
    #[error("{path}: {message}")]
    Resample {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Decodes `path` (format from its content; the extension is only a hint) and returns mono
/// 16 kHz samples.
pub fn load_16k_mono(path: &Path) -> Result<AudioClip, AudioError> {
    to_16k(decode_mono(path)?, &path.display().to_string())
}

/// Decodes the bytes of a file called `name` (a dropped file without a path) like
/// [`load_16k_mono`].
pub fn decode_16k_mono(name: &str, bytes: Arc<[u8]>) -> Result<AudioClip, AudioError> {
    let clip = decode_guarded(Box::new(Cursor::new(bytes)), Path::new(name), name)?;
    to_16k(clip, name)
}

fn to_16k(clip: AudioClip, name: &str) -> Result<AudioClip, AudioError> {
    let samples = resample_mono(&clip.samples, clip.rate, TARGET_RATE).map_err(|message| {
        AudioError::Resample {
            path: name.to_string(),
            message,
        }
    })?;
    Ok(AudioClip {
        samples,
        rate: TARGET_RATE,
    })
}

/// Decodes `path` to mono at its own sample rate (channels averaged).
pub fn decode_mono(path: &Path) -> Result<AudioClip, AudioError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| AudioError::Io {
        path: name.clone(),
        message: e.to_string(),
    })?;
    decode_guarded(Box::new(file), path, &name)
}

/// [`decode_source`] behind `catch_unwind`: symphonia has panicked on malformed streams in the
/// past, and a decoder bug must not take the app down, so a panic becomes an error.
fn decode_guarded(
    source: Box<dyn MediaSource>,
    path: &Path,
    name: &str,
) -> Result<AudioClip, AudioError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_source(source, path, name)
    }))
    .unwrap_or_else(|_| {
        Err(AudioError::Unsupported {
            path: name.to_string(),
            message: "the decoder failed on malformed data".into(),
        })
    })
}

fn decode_source(
    source: Box<dyn MediaSource>,
    path: &Path,
    name: &str,
) -> Result<AudioClip, AudioError> {
    let unsupported = |e: SymError| AudioError::Unsupported {
        path: name.to_string(),
        message: e.to_string(),
    };
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(unsupported)?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::Unsupported {
            path: name.to_string(),
            message: "no audio track".into(),
        })?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(unsupported)?;
    let mut rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut samples: Vec<f32> = Vec::new();
    let mut last_error = String::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymError::IoError(_)) | Err(SymError::ResetRequired) => break,
            Err(e) => {
                last_error = e.to_string();
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymError::DecodeError(e)) => {
                last_error = e.to_string();
                continue;
            }
            Err(SymError::IoError(_)) => break,
            Err(e) => {
                last_error = e.to_string();
                break;
            }
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        if !(1_000..=768_000).contains(&spec.rate) {
            return Err(AudioError::Unsupported {
                path: name.to_string(),
                message: format!("sample rate {} Hz", spec.rate),
            });
        }
        rate = spec.rate;
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buffer.copy_interleaved_ref(decoded);
        samples.extend(
            buffer
                .samples()
                .chunks(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        if samples.len() as u64 > MAX_SECONDS * rate as u64 {
            return Err(AudioError::TooLong {
                path: name.to_string(),
            });
        }
    }
    if samples.is_empty() || rate == 0 {
        return Err(AudioError::Empty {
            path: name.to_string(),
            message: if last_error.is_empty() {
                "no samples".into()
            } else {
                last_error
            },
        });
    }
    Ok(AudioClip { samples, rate })
}

/// Writes mono 16-bit PCM WAV (tests, the recorder's "save recording").
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) -> std::io::Result<()> {
    std::fs::write(path, wav_bytes(samples, rate))
}

/// Mono 16-bit PCM WAV in memory: the 44-byte header, then the samples clamped to ±1.
pub fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    bytes.extend(pcm16(samples));
    bytes
}

/// Samples as raw 16-bit little-endian PCM, clamped to ±1.
pub fn pcm16(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
        .collect()
}

/// The length in seconds an in-memory audio file's header states (frames ÷ sample rate), read
/// without decoding it; `None` when the container does not say or is not understood.
pub fn duration_of(bytes: &[u8]) -> Option<f64> {
    let stream = MediaSourceStream::new(
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        Default::default(),
    );
    // Probing only reads headers, but a malformed one must not panic the caller.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let probed = symphonia::default::get_probe()
            .format(
                &Hint::new(),
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .ok()?;
        let params = &probed.format.default_track()?.codec_params;
        let rate = params.sample_rate.filter(|r| *r > 0)?;
        Some(params.n_frames? as f64 / f64::from(rate))
    }))
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stereo_44k_wav_becomes_mono_16k() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tone.wav");
        let mono: Vec<f32> = (0..44_100)
            .map(|i| 0.5 * (std::f32::consts::TAU * 300.0 * i as f32 / 44_100.0).sin())
            .collect();
        write_wav(&path, &mono, 44_100).unwrap();
        let clip = decode_mono(&path).unwrap();
        assert_eq!(clip.rate, 44_100);
        assert_eq!(clip.samples.len(), 44_100);
        assert!((clip.samples[100] - mono[100]).abs() < 1e-3);
        let clip = load_16k_mono(&path).unwrap();
        assert_eq!(clip.rate, 16_000);
        assert!((clip.seconds() - 1.0).abs() < 0.01);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(duration_of(&bytes), Some(1.0));
        assert_eq!(duration_of(&bytes[..20]), None);
        assert_eq!(duration_of(b"not audio at all"), None);
        // The same bytes without a path (a dropped file) decode to the same clip.
        let bytes: Arc<[u8]> = bytes.into();
        assert_eq!(decode_16k_mono("tone.wav", bytes).unwrap(), clip);
    }

    #[test]
    fn hostile_files_give_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let err = load_16k_mono(&empty).unwrap_err().to_string();
        assert!(err.contains("not a readable audio file"), "{err}");

        let text = dir.path().join("notes.mp3");
        std::fs::write(&text, "this is text, not audio".repeat(100)).unwrap();
        assert!(load_16k_mono(&text).is_err());

        // A WAV header that claims 4 GiB of data and 0 Hz, followed by nothing.
        let mut bad = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x02\0".to_vec();
        bad.extend_from_slice(&0u32.to_le_bytes());
        bad.extend_from_slice(b"\0\0\0\0\x04\0\x10\0data\xff\xff\xff\xff");
        let absurd = dir.path().join("absurd.wav");
        std::fs::write(&absurd, &bad).unwrap();
        assert!(load_16k_mono(&absurd).is_err());

        let missing = dir.path().join("missing.flac");
        assert!(matches!(
            load_16k_mono(&missing),
            Err(AudioError::Io { .. })
        ));
    }

    #[test]
    fn a_truncated_wav_decodes_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        write_wav(&path, &vec![0.25; 16_000], 16_000).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let clip = load_16k_mono(&path).unwrap();
        assert!(clip.samples.len() < 16_000 && clip.samples.len() > 7_000);
    }
}
