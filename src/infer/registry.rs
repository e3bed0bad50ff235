//! From what is known about a model (Hub metadata or a folder's files) to a [`Plan`]: which
//! pipeline and which loader, or "not supported yet: <architecture> for <task>".

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use super::InferError;
use super::causal::{self, CausalArch};
use super::encoder::Family;
use crate::hub::ModelInfo;

/// The tasks Hubble knows by name (Hub `pipeline_tag`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// `text-generation` (also `text2text-generation` chat models are not this).
    TextGeneration,
    /// `feature-extraction`: one embedding per input.
    FeatureExtraction,
    /// `sentence-similarity`: embeddings + cosine similarity matrix.
    SentenceSimilarity,
    /// `text-classification`.
    TextClassification,
    /// `token-classification` (NER).
    TokenClassification,
    /// `fill-mask`.
    FillMask,
    /// `translation`.
    Translation,
    /// `summarization`.
    Summarization,
    /// `image-classification`: labels from `id2label` for an image.
    ImageClassification,
    /// `zero-shot-image-classification`: an image scored against labels the user types.
    ZeroShotImageClassification,
    /// `automatic-speech-recognition` (Whisper).
    AutomaticSpeechRecognition,
    /// `image-to-text`: a caption for an image (BLIP captioners).
    ImageToText,
}

impl Task {
    /// Every task, in the order the Try tab lists them.
    pub const ALL: [Task; 12] = [
        Task::TextGeneration,
        Task::FeatureExtraction,
        Task::SentenceSimilarity,
        Task::TextClassification,
        Task::TokenClassification,
        Task::FillMask,
        Task::Translation,
        Task::Summarization,
        Task::ImageClassification,
        Task::ZeroShotImageClassification,
        Task::AutomaticSpeechRecognition,
        Task::ImageToText,
    ];

    /// The Hub's pipeline tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::TextGeneration => "text-generation",
            Task::FeatureExtraction => "feature-extraction",
            Task::SentenceSimilarity => "sentence-similarity",
            Task::TextClassification => "text-classification",
            Task::TokenClassification => "token-classification",
            Task::FillMask => "fill-mask",
            Task::Translation => "translation",
            Task::Summarization => "summarization",
            Task::ImageClassification => "image-classification",
            Task::ZeroShotImageClassification => "zero-shot-image-classification",
            Task::AutomaticSpeechRecognition => "automatic-speech-recognition",
            Task::ImageToText => "image-to-text",
        }
    }

    /// Whether Hubble can run this task at all in this build.
    pub fn is_implemented(self) -> bool {
        true
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Task {
    type Err = InferError;

    fn from_str(s: &str) -> Result<Task, InferError> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Task::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .or(match s.as_str() {
                "generate" | "chat" | "text2text-generation" => Some(Task::TextGeneration),
                "embed" | "embeddings" => Some(Task::FeatureExtraction),
                "similarity" => Some(Task::SentenceSimilarity),
                "ner" => Some(Task::TokenClassification),
                "asr" | "transcribe" | "speech-recognition" => {
                    Some(Task::AutomaticSpeechRecognition)
                }
                "caption" | "image-captioning" => Some(Task::ImageToText),
                _ => None,
            })
            .ok_or_else(|| {
                InferError::InvalidInput(format!(
                    "unknown task {s:?} (expected one of: {})",
                    Task::ALL.map(Task::as_str).join(", ")
                ))
            })
    }
}

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

    /// The task to use when none is asked for: the pipeline tag, else what the files say.
    pub fn default_task(&self) -> Option<Task> {
        if let Some(task) = self.pipeline_tag.as_deref().and_then(|t| t.parse().ok()) {
            return Some(task);
        }
        if !self.gguf_files().is_empty() {
            return Some(Task::TextGeneration);
        }
        if self.has("modules.json") || self.library_name.as_deref() == Some("sentence-transformers")
        {
            return Some(Task::SentenceSimilarity);
        }
        let heads = [
            ("ForCausalLM", Task::TextGeneration),
            ("ForSequenceClassification", Task::TextClassification),
            ("ForTokenClassification", Task::TokenClassification),
            ("ForMaskedLM", Task::FillMask),
            (
                "WhisperForConditionalGeneration",
                Task::AutomaticSpeechRecognition,
            ),
            ("ForConditionalGeneration", Task::Translation),
            ("MarianMTModel", Task::Translation),
            ("ForImageClassification", Task::ImageClassification),
        ];
        if matches!(self.model_type.as_deref(), Some("clip" | "siglip")) {
            return Some(Task::ZeroShotImageClassification);
        }
        let model_type = self.model_type.as_deref().unwrap_or_default();
        if (model_type == "blip" && self.has_architecture(BLIP_CAPTIONER))
            || OTHER_CAPTIONERS.contains(&model_type)
        {
            return Some(Task::ImageToText);
        }
        self.architectures.iter().find_map(|a| {
            heads
                .iter()
                .find(|(suffix, _)| a.ends_with(suffix))
                .map(|(_, task)| *task)
        })
    }

    /// The tasks that would work for this model (the Try tab offers only these).
    pub fn supported_tasks(&self) -> Vec<Task> {
        Task::ALL
            .into_iter()
            .filter(|t| plan(self, Some(*t)).is_ok())
            .collect()
    }
}

/// How to load and run one model for one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The task.
    pub task: Task,
    /// The loader.
    pub backend: Backend,
}

impl Plan {
    /// The image architecture of a vision plan.
    pub fn vision_arch(&self) -> Result<VisionArch, InferError> {
        match self.backend {
            Backend::Vision { arch } => Ok(arch),
            _ => Err(self.wrong_backend("a vision")),
        }
    }

    /// The encoder family of an encoder plan.
    pub fn encoder_family(&self) -> Result<Family, InferError> {
        match self.backend {
            Backend::Encoder { family } => Ok(family),
            _ => Err(self.wrong_backend("an encoder")),
        }
    }

    fn wrong_backend(&self, wanted: &str) -> InferError {
        InferError::Model(format!(
            "{} needs {wanted} plan, not {:?}",
            self.task, self.backend
        ))
    }
}

/// Which loader a plan uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backend {
    /// A quantised GGUF causal LM (candle-transformers' quantized models).
    Gguf {
        /// The GGUF file, relative to the model folder.
        file: String,
        /// `general.architecture`.
        architecture: String,
    },
    /// A safetensors causal LM with config.json and tokenizer.json.
    Causal {
        /// The architecture.
        architecture: CausalArch,
    },
    /// A BERT encoder for embeddings (sentence-transformers pooling when present).
    Bert,
    /// A BERT-family encoder with a task head (classification, NER, fill-mask).
    Encoder {
        /// The family.
        family: Family,
    },
    /// A T5-family encoder–decoder (translation, summarisation).
    T5,
    /// A Marian translation model (opus-mt: SentencePiece `source.spm` + vocab.json).
    Marian,
    /// An image model (classifier or image-text model) with preprocessor_config.json.
    Vision {
        /// The architecture.
        arch: VisionArch,
    },
    /// A transformers Whisper checkpoint (`WhisperForConditionalGeneration`).
    Whisper,
}

/// The image architectures Hubble runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VisionArch {
    /// `ViTForImageClassification`.
    Vit,
    /// `ConvNextForImageClassification` (v1).
    ConvNext,
    /// `ResNetForImageClassification`.
    ResNet,
    /// `CLIPModel` (quick_gelu).
    Clip,
    /// `SiglipModel`.
    Siglip,
    /// `BlipForConditionalGeneration` (image captioning).
    Blip,
}

impl VisionArch {
    /// The architecture for config.json's `model_type` and `task`, if Hubble runs it.
    pub fn for_task(model_type: &str, task: Task) -> Option<VisionArch> {
        match (task, model_type) {
            (Task::ImageClassification, "vit") => Some(VisionArch::Vit),
            (Task::ImageClassification, "convnext") => Some(VisionArch::ConvNext),
            (Task::ImageClassification, "resnet") => Some(VisionArch::ResNet),
            (Task::ZeroShotImageClassification, "clip") => Some(VisionArch::Clip),
            (Task::ZeroShotImageClassification, "siglip") => Some(VisionArch::Siglip),
            (Task::ImageToText, "blip") => Some(VisionArch::Blip),
            _ => None,
        }
    }
}

/// The image-to-text architecture Hubble runs: BLIP captioners in the
/// Salesforce/blip-image-captioning-base/-large layout (config.json with `text_config` and
/// `vision_config`, a BERT tokenizer.json with `[DEC]`, BlipImageProcessor's
/// preprocessor_config.json, safetensors).
pub const BLIP_CAPTIONER: &str = "BlipForConditionalGeneration";

/// `model_type`s of other image-to-text models (BLIP-2, GIT, VisionEncoderDecoder such as
/// TrOCR, Pix2Struct): planned for image-to-text so the answer is "not supported yet".
const OTHER_CAPTIONERS: [&str; 4] = ["blip-2", "git", "vision-encoder-decoder", "pix2struct"];

/// Picks the pipeline and loader for `task` (or the model's default task).
pub fn plan(facts: &ModelFacts, task: Option<Task>) -> Result<Plan, InferError> {
    let task = match task.or_else(|| facts.default_task()) {
        Some(task) => task,
        None => {
            return Err(InferError::NotSupported {
                architecture: facts.architecture_name(),
                task: "an unknown task (pass --task)".into(),
            });
        }
    };
    let not_supported = |architecture: String| InferError::NotSupported {
        architecture,
        task: task.to_string(),
    };
    match task {
        Task::TextGeneration => {
            if let Some(file) = facts.gguf_files().into_iter().next() {
                let architecture = facts
                    .gguf_architecture
                    .clone()
                    .unwrap_or_else(|| "unknown".into());
                return if causal::loads_gguf(&architecture) {
                    Ok(Plan {
                        task,
                        backend: Backend::Gguf { file, architecture },
                    })
                } else {
                    Err(not_supported(format!("gguf {architecture}")))
                };
            }
            if facts.files.iter().any(|f| is_split_gguf(f)) {
                return Err(not_supported("split (multi-file) GGUF".into()));
            }
            match facts
                .model_type
                .as_deref()
                .and_then(CausalArch::from_model_type)
            {
                Some(architecture) if facts.has_safetensors() => Ok(Plan {
                    task,
                    backend: Backend::Causal { architecture },
                }),
                Some(_) => Err(not_supported(format!(
                    "{} without safetensors weights",
                    facts.architecture_name()
                ))),
                None => Err(not_supported(facts.architecture_name())),
            }
        }
        Task::FeatureExtraction | Task::SentenceSimilarity => {
            if facts.model_type.as_deref() == Some("bert") && facts.has_safetensors() {
                Ok(Plan {
                    task,
                    backend: Backend::Bert,
                })
            } else {
                Err(not_supported(facts.architecture_name()))
            }
        }
        Task::TextClassification | Task::TokenClassification | Task::FillMask => {
            let head = match task {
                Task::TextClassification => "ForSequenceClassification",
                Task::TokenClassification => "ForTokenClassification",
                _ => "ForMaskedLM",
            };
            let family = facts
                .model_type
                .as_deref()
                .and_then(Family::from_model_type);
            let has_head = facts.architectures.iter().any(|a| a.ends_with(head))
                || (facts.architectures.is_empty()
                    && facts.pipeline_tag.as_deref() == Some(task.as_str()));
            match family {
                Some(family) if has_head && facts.has_safetensors() => Ok(Plan {
                    task,
                    backend: Backend::Encoder { family },
                }),
                Some(_) if has_head => Err(not_supported(format!(
                    "{} without safetensors weights",
                    facts.architecture_name()
                ))),
                _ => Err(not_supported(facts.architecture_name())),
            }
        }
        Task::Translation | Task::Summarization => match facts.model_type.as_deref() {
            Some("t5" | "mt5") if facts.has_safetensors() => Ok(Plan {
                task,
                backend: Backend::T5,
            }),
            Some("t5" | "mt5") => Err(not_supported(format!(
                "{} without safetensors weights",
                facts.architecture_name()
            ))),
            Some("marian") if task == Task::Translation => {
                match ["source.spm", "vocab.json"]
                    .into_iter()
                    .find(|f| !facts.has(f))
                {
                    Some(missing) => Err(not_supported(format!("Marian without {missing}"))),
                    None if !facts.has_safetensors() => {
                        Err(not_supported("Marian without safetensors weights".into()))
                    }
                    None => Ok(Plan {
                        task,
                        backend: Backend::Marian,
                    }),
                }
            }
            _ => Err(not_supported(facts.architecture_name())),
        },
        Task::ImageClassification | Task::ZeroShotImageClassification | Task::ImageToText => {
            plan_vision(facts, task)
        }
        Task::AutomaticSpeechRecognition => {
            if facts.model_type.as_deref() == Some("whisper") && facts.has_safetensors() {
                Ok(Plan {
                    task,
                    backend: Backend::Whisper,
                })
            } else if facts.model_type.as_deref() == Some("whisper") {
                Err(not_supported("whisper without safetensors weights".into()))
            } else {
                Err(not_supported(facts.architecture_name()))
            }
        }
    }
}

fn plan_vision(facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
    let not_supported = |architecture: String| InferError::NotSupported {
        architecture,
        task: task.to_string(),
    };
    let arch = facts
        .model_type
        .as_deref()
        .and_then(|m| VisionArch::for_task(m, task))
        .ok_or_else(|| not_supported(facts.architecture_name()))?;
    if task == Task::ImageClassification
        && !facts
            .architectures
            .iter()
            .any(|a| a.ends_with("ForImageClassification"))
    {
        return Err(not_supported(format!(
            "{} without an image-classification head",
            facts.architecture_name()
        )));
    }
    // BLIP's other heads (question answering, retrieval) are other tasks.
    if task == Task::ImageToText
        && !facts.architectures.is_empty()
        && !facts.has_architecture(BLIP_CAPTIONER)
    {
        return Err(not_supported(facts.architecture_name()));
    }
    let mut needs = vec!["preprocessor_config.json"];
    if matches!(task, Task::ZeroShotImageClassification | Task::ImageToText) {
        needs.push("tokenizer.json");
    }
    if let Some(missing) = needs.into_iter().find(|f| !facts.has(f)) {
        return Err(not_supported(format!(
            "{} without {missing}",
            facts.architecture_name()
        )));
    }
    if !facts.has_safetensors() {
        return Err(not_supported(format!(
            "{} without safetensors weights",
            facts.architecture_name()
        )));
    }
    Ok(Plan {
        task,
        backend: Backend::Vision { arch },
    })
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

fn is_split_gguf(path: &str) -> bool {
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

    fn facts(model_type: Option<&str>, files: &[&str]) -> ModelFacts {
        ModelFacts {
            model_type: model_type.map(String::from),
            architectures: model_type
                .map(|m| vec![format!("{m}ForCausalLM")])
                .unwrap_or_default(),
            files: files.iter().map(|f| f.to_string()).collect(),
            ..ModelFacts::default()
        }
    }

    #[test]
    fn tasks_parse_from_pipeline_tags_and_aliases() {
        for task in Task::ALL {
            assert_eq!(task.as_str().parse::<Task>().unwrap(), task);
        }
        assert_eq!("chat".parse::<Task>().unwrap(), Task::TextGeneration);
        assert_eq!(
            "feature_extraction".parse::<Task>().unwrap(),
            Task::FeatureExtraction
        );
        assert!("image-to-video".parse::<Task>().is_err());
    }

    #[test]
    fn gguf_models_plan_by_their_architecture() {
        let mut f = facts(None, &["a.Q8_0.gguf", "a.Q4_K_M.gguf", "README.md"]);
        f.gguf_architecture = Some("llama".into());
        let plan = plan(&f, None).unwrap();
        assert_eq!(
            plan.backend,
            Backend::Gguf {
                file: "a.Q4_K_M.gguf".into(),
                architecture: "llama".into()
            }
        );
        f.gguf_architecture = Some("mamba".into());
        let err = super::plan(&f, None).unwrap_err().to_string();
        assert_eq!(err, "not supported yet: gguf mamba for text-generation");
    }

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
    fn safetensors_causal_lms_plan_by_model_type() {
        for (model_type, arch) in [
            ("llama", CausalArch::Llama),
            ("mistral", CausalArch::Mistral),
            ("qwen2", CausalArch::Qwen2),
            ("qwen3", CausalArch::Qwen3),
            ("phi3", CausalArch::Phi3),
            ("gemma", CausalArch::Gemma),
            ("gemma2", CausalArch::Gemma2),
            ("gemma3_text", CausalArch::Gemma3),
        ] {
            let f = facts(Some(model_type), &["config.json", "model.safetensors"]);
            assert_eq!(
                plan(&f, Some(Task::TextGeneration)).unwrap().backend,
                Backend::Causal { architecture: arch }
            );
        }
        let f = facts(Some("gpt_neox"), &["config.json", "model.safetensors"]);
        assert_eq!(
            plan(&f, Some(Task::TextGeneration))
                .unwrap_err()
                .to_string(),
            "not supported yet: gpt_neoxForCausalLM for text-generation"
        );
        let f = facts(Some("llama"), &["config.json", "pytorch_model.bin"]);
        assert!(plan(&f, Some(Task::TextGeneration)).is_err());
    }

    #[test]
    fn bert_embeddings_and_unsupported_tasks() {
        let mut f = facts(
            Some("bert"),
            &["config.json", "model.safetensors", "modules.json"],
        );
        f.architectures = vec!["BertModel".into()];
        assert_eq!(f.default_task(), Some(Task::SentenceSimilarity));
        assert_eq!(plan(&f, None).unwrap().backend, Backend::Bert);
        assert_eq!(
            f.supported_tasks(),
            vec![Task::FeatureExtraction, Task::SentenceSimilarity]
        );
        assert_eq!(
            plan(&f, Some(Task::Translation)).unwrap_err().to_string(),
            "not supported yet: BertModel for translation"
        );
        assert!(
            plan(&ModelFacts::default(), None)
                .unwrap_err()
                .to_string()
                .contains("pass --task")
        );
    }

    #[test]
    fn vision_models_plan_by_model_type_head_and_files() {
        let files = [
            "config.json",
            "model.safetensors",
            "preprocessor_config.json",
        ];
        let mut f = facts(Some("vit"), &files);
        f.architectures = vec!["ViTForImageClassification".into()];
        assert_eq!(f.default_task(), Some(Task::ImageClassification));
        assert_eq!(
            plan(&f, None).unwrap().backend,
            Backend::Vision {
                arch: VisionArch::Vit
            }
        );
        f.architectures = vec!["ViTModel".into()];
        assert_eq!(
            plan(&f, Some(Task::ImageClassification))
                .unwrap_err()
                .to_string(),
            "not supported yet: ViTModel without an image-classification head for image-classification"
        );
        let mut clip = facts(Some("clip"), &files);
        clip.architectures = vec!["CLIPModel".into()];
        assert_eq!(clip.default_task(), Some(Task::ZeroShotImageClassification));
        assert_eq!(
            plan(&clip, None).unwrap_err().to_string(),
            "not supported yet: CLIPModel without tokenizer.json for zero-shot-image-classification"
        );
        clip.files.push("tokenizer.json".into());
        assert_eq!(
            clip.supported_tasks(),
            vec![Task::ZeroShotImageClassification]
        );
        let mut swin = facts(Some("swin"), &files);
        swin.architectures = vec!["SwinForImageClassification".into()];
        assert!(plan(&swin, None).is_err());
        assert_eq!(
            "zero_shot_image_classification".parse::<Task>().unwrap(),
            Task::ZeroShotImageClassification
        );
    }

    #[test]
    fn blip_captioners_plan_for_image_to_text_and_other_captioners_do_not() {
        let files = [
            "config.json",
            "model.safetensors",
            "preprocessor_config.json",
            "tokenizer.json",
        ];
        let mut blip = facts(Some("blip"), &files);
        blip.architectures = vec![BLIP_CAPTIONER.into()];
        assert_eq!(blip.default_task(), Some(Task::ImageToText));
        assert_eq!(
            plan(&blip, None).unwrap().backend,
            Backend::Vision {
                arch: VisionArch::Blip
            }
        );
        assert_eq!(blip.supported_tasks(), vec![Task::ImageToText]);
        assert_eq!("caption".parse::<Task>().unwrap(), Task::ImageToText);
        blip.files.retain(|f| f != "tokenizer.json");
        assert_eq!(
            plan(&blip, None).unwrap_err().to_string(),
            "not supported yet: BlipForConditionalGeneration without tokenizer.json for image-to-text"
        );
        let mut vqa = facts(Some("blip"), &files);
        vqa.architectures = vec!["BlipForQuestionAnswering".into()];
        assert_eq!(
            plan(&vqa, Some(Task::ImageToText)).unwrap_err().to_string(),
            "not supported yet: BlipForQuestionAnswering for image-to-text"
        );
        for (model_type, architecture) in [
            ("blip-2", "Blip2ForConditionalGeneration"),
            ("git", "GitForCausalLM"),
            ("vision-encoder-decoder", "VisionEncoderDecoderModel"),
        ] {
            let mut other = facts(Some(model_type), &files);
            other.architectures = vec![architecture.into()];
            assert_eq!(other.default_task(), Some(Task::ImageToText));
            assert_eq!(
                plan(&other, None).unwrap_err().to_string(),
                format!("not supported yet: {architecture} for image-to-text")
            );
        }
    }

    #[test]
    fn whisper_plans_for_speech_recognition() {
        let mut f = facts(Some("whisper"), &["config.json", "model.safetensors"]);
        f.architectures = vec!["WhisperForConditionalGeneration".into()];
        assert_eq!(f.default_task(), Some(Task::AutomaticSpeechRecognition));
        assert_eq!(plan(&f, None).unwrap().backend, Backend::Whisper);
        assert_eq!(f.supported_tasks(), vec![Task::AutomaticSpeechRecognition]);
        assert_eq!(
            "asr".parse::<Task>().unwrap(),
            Task::AutomaticSpeechRecognition
        );
        f.files = vec!["config.json".into(), "pytorch_model.bin".into()];
        assert_eq!(
            plan(&f, None).unwrap_err().to_string(),
            "not supported yet: whisper without safetensors weights for automatic-speech-recognition"
        );
        let mut t5 = facts(Some("t5"), &["config.json", "model.safetensors"]);
        t5.architectures = vec!["T5ForConditionalGeneration".into()];
        assert_eq!(t5.default_task(), Some(Task::Translation));
    }

    #[test]
    fn marian_plans_for_translation_with_its_sentencepiece_files() {
        let files = [
            "config.json",
            "model.safetensors",
            "source.spm",
            "target.spm",
            "vocab.json",
        ];
        let mut f = facts(Some("marian"), &files);
        f.architectures = vec!["MarianMTModel".into()];
        assert_eq!(plan(&f, None).unwrap().backend, Backend::Marian);
        assert_eq!(f.supported_tasks(), vec![Task::Translation]);
        f.files.retain(|file| file != "vocab.json");
        assert_eq!(
            plan(&f, None).unwrap_err().to_string(),
            "not supported yet: Marian without vocab.json for translation"
        );
        f.files = vec![
            "config.json".into(),
            "pytorch_model.bin".into(),
            "source.spm".into(),
            "vocab.json".into(),
        ];
        assert_eq!(
            plan(&f, None).unwrap_err().to_string(),
            "not supported yet: Marian without safetensors weights for translation"
        );
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
        assert_eq!(f.default_task(), Some(Task::FeatureExtraction));
    }
}
