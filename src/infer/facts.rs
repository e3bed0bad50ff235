//! What is known about a model, from the Hub's metadata or a snapshot folder: pipeline tag,
//! library, config.json architectures, GGUF architecture and the file list. Planning reads
//! only this, so a model can be planned before anything is downloaded.

use std::path::Path;

use serde::Serialize;

use super::InferError;
use crate::hub::ModelInfo;

/// What is known about a model, from the Hub or from a folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelFacts {
    /// The Hub's `pipeline_tag` (or the card's).
    pub pipeline_tag: Option<String>,
    /// The Hub's `library_name` (or the card's).
    pub library_name: Option<String>,
    /// config.json `architectures`.
    pub architectures: Vec<String>,
    /// config.json `model_type`.
    pub model_type: Option<String>,
    /// `general.architecture` of the GGUF file, when there is one.
    pub gguf_architecture: Option<String>,
    /// Repository-relative file paths.
    pub files: Vec<String>,
}

impl ModelFacts {
    /// Facts from a Hub model-info answer (siblings, config, gguf, tags).
    pub fn from_model_info(info: &ModelInfo) -> ModelFacts {
        let config = info.config.as_ref();
        ModelFacts {
            pipeline_tag: info.pipeline_tag.clone(),
            library_name: info.library_name.clone(),
            architectures: config
                .and_then(|c| c.get("architectures"))
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .or_else(|| {
                    // diffusers repositories: the pipeline class stands for the architecture.
                    let class = config?.get("diffusers")?.get("_class_name")?.as_str()?;
                    Some(vec![class.to_string()])
                })
                .unwrap_or_default(),
            model_type: config
                .and_then(|c| c.get("model_type"))
                .and_then(|v| v.as_str())
                .map(String::from),
            gguf_architecture: info.gguf.as_ref().and_then(|g| g.architecture.clone()),
            files: info.siblings.iter().map(|s| s.path.clone()).collect(),
        }
    }

    /// Facts from a snapshot folder: its files, config.json, the first GGUF's header and the
    /// model card's front matter.
    pub fn from_dir(dir: &Path) -> Result<ModelFacts, InferError> {
        if !dir.is_dir() {
            return Err(InferError::file(dir, "not a folder"));
        }
        let mut facts = ModelFacts {
            files: list_files(dir),
            ..ModelFacts::default()
        };
        if let Ok(config) = super::read_json(&dir.join("config.json")) {
            facts.architectures = config
                .get("architectures")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            facts.model_type = config
                .get("model_type")
                .and_then(|v| v.as_str())
                .map(String::from);
        }
        if facts.architectures.is_empty()
            && let Ok(index) = super::read_json(&dir.join("model_index.json"))
            && let Some(class) = index.get("_class_name").and_then(|c| c.as_str())
        {
            // A diffusers pipeline: its class stands for the architecture.
            facts.architectures = vec![class.to_string()];
        }
        if let Some(gguf) = facts.gguf_files().first() {
            facts.gguf_architecture = gguf_architecture(&dir.join(gguf)).ok();
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("README.md")) {
            let card = crate::card::ModelCard::parse(&text);
            facts.pipeline_tag = card.metadata.pipeline_tag;
            facts.library_name = card.metadata.library_name;
        }
        Ok(facts)
    }

    /// Whether config.json's `architectures` names `architecture`.
    pub fn has_architecture(&self, architecture: &str) -> bool {
        self.architectures.iter().any(|a| a == architecture)
    }

    /// Narrows the facts to one GGUF file of the folder `dir` (a repository with several
    /// quants): the other GGUF files are left out and the architecture is that file's.
    pub fn choose_gguf(&mut self, dir: &Path, file: &str) -> Result<(), InferError> {
        if !self.has(file) {
            return Err(InferError::MissingFile {
                what: file.to_string(),
                dir: dir.to_path_buf(),
            });
        }
        self.files.retain(|f| f == file || !f.ends_with(".gguf"));
        self.gguf_architecture = gguf_architecture(&dir.join(file)).ok();
        Ok(())
    }

    /// Whether a file is present.
    pub fn has(&self, path: &str) -> bool {
        self.files.iter().any(|f| f == path)
    }

    /// Single-file GGUFs, best quantisation for a CPU first (Q4_K_M, Q4_0, Q4_1, Q5, Q8, ...).
    pub fn gguf_files(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.to_ascii_lowercase().ends_with(".gguf") && !is_split_gguf(f))
            .cloned()
            .collect();
        out.sort_by_key(|f| (quant_rank(f), f.clone()));
        out
    }

    /// Whether a tokenizer can be read: tokenizer.json, or the slow files Hubble converts
    /// (BERT's vocab.txt, RoBERTa's vocab.json with merges.txt).
    pub fn has_tokenizer(&self) -> bool {
        self.has("tokenizer.json")
            || self.has("vocab.txt")
            || (self.has("vocab.json") && self.has("merges.txt"))
    }

    /// Whether safetensors weights are present (single file or sharded).
    pub fn has_safetensors(&self) -> bool {
        self.files.iter().any(|f| f.ends_with(".safetensors"))
    }

    /// The name to show for the architecture: config.json's first architecture, else the
    /// model_type, else the GGUF architecture.
    pub fn architecture_name(&self) -> String {
        self.architectures
            .first()
            .cloned()
            .or_else(|| self.model_type.clone())
            .or_else(|| self.gguf_architecture.as_ref().map(|a| format!("gguf {a}")))
            .unwrap_or_else(|| "unknown architecture".into())
    }
}

/// `general.architecture` from a GGUF header (reads metadata only, not tensors). The header goes
/// through the Fit parser, which keeps long arrays (the vocabulary) as lengths only; candle's
/// reader would put the whole vocabulary (~8 MB for 49152 tokens) on this thread's heap, where
/// it stays after it is freed, just to find one string.
pub fn gguf_architecture(path: &Path) -> Result<String, InferError> {
    use crate::fit::format_error::FormatError;
    use crate::fit::gguf;
    use std::io::Read;
    let io = |e: std::io::Error| InferError::file(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut prefix = Vec::new();
    let mut want: u64 = 64 * 1024;
    loop {
        let held = prefix.len() as u64;
        (&mut file)
            .take(want.saturating_sub(held))
            .read_to_end(&mut prefix)
            .map_err(io)?;
        match gguf::parse(&prefix, Some(len)) {
            Ok(header) => {
                return header.architecture().map(String::from).ok_or_else(|| {
                    InferError::file(path, "no general.architecture in the GGUF metadata")
                });
            }
            Err(FormatError::Truncated { needed })
                if (prefix.len() as u64) < len.min(needed) && prefix.len() as u64 > held =>
            {
                want = needed.max(want.saturating_mul(2)).min(len);
            }
            Err(e) => return Err(InferError::file(path, e)),
        }
    }
}

/// Whether `path` is one part of a split GGUF (`…-00001-of-00003.gguf`).
pub fn is_split_gguf(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".gguf") && lower.contains("-of-0")
}

fn quant_rank(path: &str) -> usize {
    const ORDER: [&str; 10] = [
        "q4_k_m", "q4_0", "q4_1", "q4_k_s", "q5_k_m", "q5_0", "q8_0", "q6_k", "f16", "f32",
    ];
    let lower = path.to_ascii_lowercase();
    ORDER
        .iter()
        .position(|q| lower.contains(q))
        .unwrap_or(ORDER.len())
}

/// Relative paths of the files under `dir` (two levels deep, as model repos are laid out).
fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            if let Ok(inner) = std::fs::read_dir(&path) {
                for inner in inner.flatten() {
                    if inner.path().is_file() {
                        out.push(format!("{name}/{}", inner.file_name().to_string_lossy()));
                    }
                }
            }
        } else if path.is_file() {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_architecture_reads_headers_past_the_first_read() {
        use candle_core::quantized::gguf_file::{self, Value};
        use candle_core::quantized::{GgmlDType, QTensor};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        // A 100k-token vocabulary makes the header ~1 MB, far past the first 64 KiB read.
        let tokens = Value::Array(
            (0..100_000)
                .map(|i| Value::String(format!("t{i}")))
                .collect(),
        );
        let arch = Value::String("qwen3".into());
        let cpu = candle_core::Device::Cpu;
        let weight = candle_core::Tensor::zeros((2, 32), candle_core::DType::F32, &cpu);
        let weight = QTensor::quantize(&weight.unwrap(), GgmlDType::Q8_0).unwrap();
        let metadata = [
            ("tokenizer.ggml.tokens", &tokens),
            ("general.architecture", &arch),
        ];
        let mut file = std::fs::File::create(&path).unwrap();
        gguf_file::write(&mut file, &metadata, &[("w", &weight)]).unwrap();
        drop(file);
        assert_eq!(gguf_architecture(&path).unwrap(), "qwen3");
        // Cut inside the header: an error naming the file, not a loop or a panic.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..200_000]).unwrap();
        let err = gguf_architecture(&path).unwrap_err().to_string();
        assert!(err.contains("m.gguf"), "{err}");
    }

    #[test]
    fn facts_from_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"architectures":["BertModel"],"model_type":"bert"}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("model.safetensors"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(dir.path().join("1_Pooling/config.json"), b"{}").unwrap();
        std::fs::write(
            dir.path().join("README.md"),
            "---\npipeline_tag: feature-extraction\nlibrary_name: sentence-transformers\n---\n# x",
        )
        .unwrap();
        let f = ModelFacts::from_dir(dir.path()).unwrap();
        assert_eq!(
            f.files,
            [
                "1_Pooling/config.json",
                "README.md",
                "config.json",
                "model.safetensors"
            ]
        );
        assert_eq!(f.model_type.as_deref(), Some("bert"));
        assert_eq!(f.pipeline_tag.as_deref(), Some("feature-extraction"));
    }
}
