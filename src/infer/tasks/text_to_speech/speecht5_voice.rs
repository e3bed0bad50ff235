//! SpeechT5 voices (microsoft/speecht5_tts and fine-tunes in its layout): the text's
//! characters through [`SpeechT5Tokenizer`], the spectrogram as `generate_speech` makes it,
//! the waveform from the HiFi-GAN vocoder SpeechT5 is published with
//! (microsoft/speecht5_hifigan, found in the Hugging Face cache), and the voice from a speaker
//! embedding: a 512-value x-vector in a `.npy` file (as the CMU ARCTIC x-vectors are shared),
//! or none, the model's neutral voice. SpeechT5 keeps its prenet dropout on while speaking;
//! the seed draws it.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cache::CachedRepo;
use crate::config::{HubConfig, Overrides};
use crate::hub::RepoId;
use crate::infer::models::speecht5::{SpeechT5, SpeechT5Spec, SpeechT5Vocoder, StopRule};
use crate::infer::models::weights;
use crate::infer::pipeline::{Event, RunContext};
use crate::infer::tokenizers::speecht5_tokenizer::SpeechT5Tokenizer;
use crate::infer::{InferError, device, read_json};

/// The vocoder SpeechT5's text-to-speech checkpoints speak through.
pub const VOCODER_REPO: &str = "microsoft/speecht5_hifigan";

/// A loaded SpeechT5 model with its tokenizer and vocoder.
pub struct SpeechT5Voice {
    model: SpeechT5,
    tokenizer: SpeechT5Tokenizer,
    vocoder: SpeechT5Vocoder,
}

impl SpeechT5Voice {
    /// Loads the model in `dir` with the vocoder in `vocoder_dir`; also says what it loaded.
    pub fn load(
        dir: &Path,
        vocoder_dir: &Path,
        device: &Device,
    ) -> Result<(SpeechT5Voice, String), InferError> {
        let config_path = dir.join("config.json");
        let spec = SpeechT5Spec::from_config(&read_json(&config_path)?)
            .map_err(|e| InferError::file(&config_path, e))?;
        let vocoder_config = read_json(&vocoder_dir.join("config.json"))?;
        let vocoder = SpeechT5Vocoder::new(&vocoder_config, weights(vocoder_dir, device)?)?;
        if vocoder.mel_bins() != spec.mel_bins {
            return Err(InferError::Model(format!(
                "the vocoder reads {} mel bins; the model makes {}",
                vocoder.mel_bins(),
                spec.mel_bins
            )));
        }
        let description = format!(
            "SpeechT5 voice with its HiFi-GAN vocoder ({} Hz), safetensors on {}",
            vocoder.sampling_rate,
            device::describe(device)
        );
        Ok((
            SpeechT5Voice {
                tokenizer: SpeechT5Tokenizer::from_dir(dir)?,
                model: SpeechT5::new(weights(dir, device)?, &spec, device)?,
                vocoder,
            },
            description,
        ))
    }

    /// The token ids of `text`.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, InferError> {
        self.tokenizer.encode(text)
    }

    /// Samples per second of the speech.
    pub fn sampling_rate(&self) -> u32 {
        self.vocoder.sampling_rate
    }

    /// Values a speaker embedding has.
    pub fn speaker_dim(&self) -> usize {
        self.model.spec().speaker_dim()
    }

    /// The spectrogram `(frames, mel)` of `text` spoken by `speaker`, with the prenet's
    /// dropout drawn from `seed`; progress goes to `ctx`, which can cancel it.
    pub fn spectrogram(
        &self,
        text: &str,
        speaker: &[f32],
        stop: &StopRule,
        seed: u64,
        ctx: &RunContext,
    ) -> Result<Tensor, InferError> {
        let ids = self.token_ids(text)?;
        let spec = self.model.spec();
        if ids.len() > spec.max_text_positions {
            return Err(InferError::InvalidInput(format!(
                "the text is {} tokens long; SpeechT5 reads at most {}: speak it in parts",
                ids.len(),
                spec.max_text_positions
            )));
        }
        let most_frames = spec.reduction
            * ((ids.len() as f64 * stop.max_ratio / spec.reduction as f64) as usize)
                .min(spec.max_speech_positions);
        let p = spec.prenet_dropout;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut dropout = |n: usize| {
            (0..n)
                .map(|_| {
                    if rng.random::<f64>() < p {
                        0.0
                    } else {
                        (1.0 / (1.0 - p)) as f32
                    }
                })
                .collect()
        };
        let mut step = |frames: usize| {
            ctx.emit(Event::Progress {
                done: frames,
                total: most_frames.max(frames),
                preview: None,
            });
            !ctx.is_cancelled()
        };
        self.model
            .spectrogram(&ids, speaker, stop, &mut dropout, &mut step)?
            .ok_or(InferError::Cancelled)
    }

    /// The waveform of a spectrogram.
    pub fn vocode(&self, spectrogram: &Tensor) -> Result<Vec<f32>, InferError> {
        Ok(self.vocoder.waveform(spectrogram)?)
    }

    /// The speaker embedding in `path` (`None`: the neutral voice, all zeros).
    pub fn speaker(&self, path: Option<&Path>) -> Result<Vec<f32>, InferError> {
        let dim = self.speaker_dim();
        let Some(path) = path else {
            return Ok(vec![0.0; dim]);
        };
        let values = read_npy_f32(path)?;
        if values.len() != dim {
            return Err(InferError::file(
                path,
                format!(
                    "holds {} values; this model's speaker embeddings have {dim}",
                    values.len()
                ),
            ));
        }
        Ok(values)
    }
}

/// The vocoder's snapshot: in the cache that holds `model_dir` (a snapshot folder), else in
/// the cache HF_HOME / HF_HUB_CACHE name.
pub fn find_vocoder(model_dir: &Path) -> Result<PathBuf, InferError> {
    let repo = RepoId::parse(VOCODER_REPO).map_err(|e| InferError::Model(e.to_string()))?;
    let holding = model_dir
        .parent()
        .filter(|p| p.file_name().is_some_and(|n| n == "snapshots"))
        .and_then(|snapshots| snapshots.parent()?.parent())
        .map(Path::to_path_buf);
    let configured = HubConfig::from_env(&Overrides::default()).hub_cache;
    holding
        .into_iter()
        .chain([configured])
        .filter_map(|cache| CachedRepo::new(&cache, &repo).snapshot_dir("main"))
        .find(|snapshot| snapshot.join("config.json").is_file())
        .ok_or_else(|| {
            InferError::InvalidInput(format!(
                "SpeechT5 speaks through the HiFi-GAN vocoder {VOCODER_REPO}, which is not in \
                 the cache: run `hubble download {VOCODER_REPO}`"
            ))
        })
}

/// The float32 values of a little-endian `.npy` array (any shape, C order).
fn read_npy_f32(path: &Path) -> Result<Vec<f32>, InferError> {
    let bad =
        |why: &str| InferError::file(path, format!("not a float32 .npy speaker embedding: {why}"));
    let bytes = std::fs::read(path).map_err(|e| InferError::file(path, e))?;
    if bytes.len() > 1 << 20 {
        return Err(bad("larger than 1 MiB"));
    }
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(bad("no NUMPY magic"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unknown format version")),
    };
    let header = bytes
        .get(start..start + header_len)
        .map(String::from_utf8_lossy)
        .ok_or_else(|| bad("cut short"))?;
    if !header.contains("'descr': '<f4'") {
        return Err(bad("its values are not little-endian float32"));
    }
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order"));
    }
    let data = &bytes[start + header_len..];
    if !data.len().is_multiple_of(4) {
        return Err(bad("cut short"));
    }
    Ok(data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, values: &[f32]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}",
            values.len()
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        bytes
    }

    #[test]
    fn npy_files_are_read_and_other_types_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("speaker.npy");
        std::fs::write(&good, npy("<f4", &[0.5, -1.25, 3.0])).unwrap();
        assert_eq!(read_npy_f32(&good).unwrap(), vec![0.5, -1.25, 3.0]);
        let doubles = dir.path().join("doubles.npy");
        std::fs::write(&doubles, npy("<f8", &[0.5])).unwrap();
        let error = read_npy_f32(&doubles).unwrap_err().to_string();
        assert!(error.contains("float32"), "{error}");
        let text = dir.path().join("speaker.txt");
        std::fs::write(&text, "0.5 0.25").unwrap();
        assert!(
            read_npy_f32(&text)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
    }

    #[test]
    fn a_missing_vocoder_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("models--a--b/snapshots/0123");
        std::fs::create_dir_all(&snapshot).unwrap();
        let error = find_vocoder(&snapshot).unwrap_err().to_string();
        assert!(
            error.contains("hubble download microsoft/speecht5_hifigan"),
            "{error}"
        );
    }
}
