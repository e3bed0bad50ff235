//! The one list of tasks, and what the rest of the house asks of it: which tasks exist, which
//! one a model is for, a [`Plan`] for it (or "not supported yet: <architecture> for <task>"),
//! loading, and `hubble run`'s per-task arguments, all from [`TASKS`], the one list of task
//! files (in `tasks/mod.rs`, beside their module declarations).

use std::path::Path;

use candle_core::Device;

use super::InferError;
use super::facts::ModelFacts;
use super::pipeline::{LoadedPipeline, Request, RunContext, Task};
use super::plan::Plan;
use super::run_input::RunInput;
use super::task_module::TaskModule;
use super::tasks::TASKS;

/// Every task Hubble runs, in the Try tab's order.
pub fn all_tasks() -> Vec<Task> {
    TASKS
        .iter()
        .flat_map(|m| m.tasks().iter().copied())
        .collect()
}

/// The task file that answers `task`.
pub fn module(task: Task) -> Result<&'static dyn TaskModule, InferError> {
    TASKS
        .iter()
        .copied()
        .find(|m| m.tasks().contains(&task))
        .ok_or_else(|| InferError::InvalidInput(format!("unknown task {task}")))
}

/// A task by its pipeline tag or an alias (`chat`, `ner`, `asr`, …; `_` for `-`, any case).
pub fn parse_task(name: &str) -> Result<Task, InferError> {
    let name = name.trim().to_ascii_lowercase().replace('_', "-");
    let tasks = all_tasks();
    tasks
        .iter()
        .copied()
        .find(|t| t.as_str() == name)
        .or_else(|| {
            TASKS
                .iter()
                .flat_map(|m| m.aliases().iter())
                .find(|(alias, _)| *alias == name)
                .map(|(_, task)| *task)
        })
        .ok_or_else(|| {
            let names: Vec<&str> = tasks.iter().map(|t| t.as_str()).collect();
            InferError::InvalidInput(format!(
                "unknown task {name:?} (expected one of: {})",
                names.join(", ")
            ))
        })
}

/// The task to use when none is asked for: the pipeline tag, else what the files say.
pub fn default_task(facts: &ModelFacts) -> Option<Task> {
    if let Some(task) = facts
        .pipeline_tag
        .as_deref()
        .and_then(|t| parse_task(t).ok())
    {
        return Some(task);
    }
    TASKS
        .iter()
        .enumerate()
        .filter_map(|(order, m)| {
            m.guess(facts)
                .map(|(evidence, task)| (evidence, order, task))
        })
        .min_by_key(|(evidence, order, _)| (*evidence, *order))
        .map(|(_, _, task)| task)
}

/// The tasks that would work for this model (the Try tab offers only these).
pub fn supported_tasks(facts: &ModelFacts) -> Vec<Task> {
    all_tasks()
        .into_iter()
        .filter(|t| plan(facts, Some(*t)).is_ok())
        .collect()
}

/// Picks the loader for `task` (or the model's default task).
pub fn plan(facts: &ModelFacts, task: Option<Task>) -> Result<Plan, InferError> {
    let task = task
        .or_else(|| default_task(facts))
        .ok_or_else(|| InferError::NotSupported {
            architecture: facts.architecture_name(),
            task: "an unknown task (pass --task)".into(),
        })?;
    module(task)?.plan(facts, task)
}

/// Loads a planned model through its task file.
pub fn load(
    dir: &Path,
    plan: &Plan,
    device: &Device,
    ctx: &RunContext,
) -> Result<Box<dyn LoadedPipeline>, InferError> {
    module(plan.task)?.loader()(dir, plan, device, ctx)
}

/// Every task's `hubble run` arguments, each id once.
pub fn cli_args() -> Vec<clap::Arg> {
    let mut args: Vec<clap::Arg> = Vec::new();
    for arg in TASKS.iter().flat_map(|m| m.cli_args()) {
        if !args.iter().any(|a| a.get_id() == arg.get_id()) {
            args.push(arg);
        }
    }
    args
}

/// The request `hubble run`'s arguments describe for `task`.
pub fn cli_request(task: Task, input: &RunInput) -> Result<Request, InferError> {
    module(task)?.cli_request(task, input)
}

/// The request `hubble run`'s words would make for `task`: `--input TEXT` (repeatable),
/// `--input-file PATH` and any task's own options (`--labels a,b`), each task's defaults for
/// the rest. For front ends that take any task's input as text (the Compare view).
pub fn request_from_words(task: Task, words: &[String]) -> Result<Request, InferError> {
    let command = clap::Command::new("input")
        .no_binary_name(true)
        .disable_help_flag(true)
        .arg(
            clap::Arg::new("input")
                .long("input")
                .action(clap::ArgAction::Append),
        )
        .arg(
            clap::Arg::new("input_file")
                .long("input-file")
                .value_parser(clap::value_parser!(std::path::PathBuf)),
        )
        .args(cli_args());
    let matches = command.try_get_matches_from(words).map_err(|e| {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        InferError::InvalidInput(first.trim_start_matches("error: ").to_string())
    })?;
    cli_request(task, &RunInput::new(matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_make_any_tasks_request_and_bad_words_say_why() {
        use crate::infer::tasks::feature_extraction::EmbeddingRequest;
        use crate::infer::tasks::zero_shot_classification::ZERO_SHOT_CLASSIFICATION;
        let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let request = request_from_words(
            FEATURE_EXTRACTION,
            &words(&["--input", "a", "--input", "b"]),
        )
        .unwrap();
        let request = request
            .take::<EmbeddingRequest>(FEATURE_EXTRACTION)
            .unwrap();
        assert_eq!(request.sentences, ["a", "b"]);
        let zero_shot = words(&["--input", "I love it", "--labels", "joy,anger"]);
        assert!(request_from_words(ZERO_SHOT_CLASSIFICATION, &zero_shot).is_ok());
        let error = request_from_words(FEATURE_EXTRACTION, &words(&["--nonsense"])).unwrap_err();
        assert!(error.to_string().contains("--nonsense"), "{error}");
    }
    use crate::infer::models::causal::CausalArch;
    use crate::infer::tasks::feature_extraction::{
        BertEncoder, FEATURE_EXTRACTION, SENTENCE_SIMILARITY,
    };
    use crate::infer::tasks::image_classification::{ClassifierArch, IMAGE_CLASSIFICATION};
    use crate::infer::tasks::image_to_text::{BLIP_CAPTIONER, BlipCaptioner, IMAGE_TO_TEXT};
    use crate::infer::tasks::seq2seq::{Seq2SeqModel, TRANSLATION};
    use crate::infer::tasks::speech_recognition::{
        AUTOMATIC_SPEECH_RECOGNITION, WhisperCheckpoint,
    };
    use crate::infer::tasks::text_classification::TEXT_CLASSIFICATION;
    use crate::infer::tasks::text_generation::{CausalSource, TEXT_GENERATION};
    use crate::infer::tasks::zero_shot_image::ZERO_SHOT_IMAGE_CLASSIFICATION;

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
        for task in all_tasks() {
            assert_eq!(parse_task(task.as_str()).unwrap(), task);
        }
        assert_eq!(parse_task("chat").unwrap(), TEXT_GENERATION);
        assert_eq!(
            parse_task("feature_extraction").unwrap(),
            FEATURE_EXTRACTION
        );
        assert!(parse_task("image-to-video").is_err());
    }

    #[test]
    fn the_strongest_evidence_picks_the_default_task() {
        let mut f = facts(Some("bert"), &["config.json", "model.safetensors"]);
        f.architectures = vec!["BertForSequenceClassification".into()];
        assert_eq!(default_task(&f), Some(TEXT_CLASSIFICATION));
        // The files outrank a head: a sentence-transformers classifier is for similarity.
        f.files.push("modules.json".into());
        assert_eq!(default_task(&f), Some(SENTENCE_SIMILARITY));
        // A pipeline tag outranks both.
        f.pipeline_tag = Some("text-classification".into());
        assert_eq!(default_task(&f), Some(TEXT_CLASSIFICATION));
    }

    #[test]
    fn gguf_models_plan_by_their_architecture() {
        let mut f = facts(None, &["a.Q8_0.gguf", "a.Q4_K_M.gguf", "README.md"]);
        f.gguf_architecture = Some("llama".into());
        let planned = plan(&f, None).unwrap();
        assert_eq!(
            planned.loader::<CausalSource>().unwrap(),
            &CausalSource::Gguf {
                file: "a.Q4_K_M.gguf".into(),
                architecture: "llama".into()
            }
        );
        f.gguf_architecture = Some("mamba".into());
        let err = plan(&f, None).unwrap_err().to_string();
        assert_eq!(err, "not supported yet: gguf mamba for text-generation");
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
                plan(&f, Some(TEXT_GENERATION)).unwrap(),
                Plan::new(
                    TEXT_GENERATION,
                    CausalSource::Safetensors { architecture: arch }
                )
            );
        }
        let f = facts(Some("gpt_neox"), &["config.json", "model.safetensors"]);
        assert_eq!(
            plan(&f, Some(TEXT_GENERATION)).unwrap_err().to_string(),
            "not supported yet: gpt_neoxForCausalLM for text-generation"
        );
        let f = facts(Some("llama"), &["config.json", "pytorch_model.bin"]);
        assert!(plan(&f, Some(TEXT_GENERATION)).is_err());
    }

    #[test]
    fn bert_embeddings_and_unsupported_tasks() {
        let mut f = facts(
            Some("bert"),
            &["config.json", "model.safetensors", "modules.json"],
        );
        f.architectures = vec!["BertModel".into()];
        assert_eq!(default_task(&f), Some(SENTENCE_SIMILARITY));
        assert_eq!(
            plan(&f, None).unwrap(),
            Plan::new(SENTENCE_SIMILARITY, BertEncoder)
        );
        assert_eq!(
            supported_tasks(&f),
            vec![FEATURE_EXTRACTION, SENTENCE_SIMILARITY]
        );
        assert_eq!(
            plan(&f, Some(TRANSLATION)).unwrap_err().to_string(),
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
        assert_eq!(default_task(&f), Some(IMAGE_CLASSIFICATION));
        assert_eq!(
            plan(&f, None).unwrap(),
            Plan::new(IMAGE_CLASSIFICATION, ClassifierArch::Vit)
        );
        f.architectures = vec!["ViTModel".into()];
        assert_eq!(
            plan(&f, Some(IMAGE_CLASSIFICATION))
                .unwrap_err()
                .to_string(),
            "not supported yet: ViTModel without an image-classification head for image-classification"
        );
        let mut clip = facts(Some("clip"), &files);
        clip.architectures = vec!["CLIPModel".into()];
        assert_eq!(default_task(&clip), Some(ZERO_SHOT_IMAGE_CLASSIFICATION));
        assert_eq!(
            plan(&clip, None).unwrap_err().to_string(),
            "not supported yet: CLIPModel without tokenizer.json for zero-shot-image-classification"
        );
        clip.files.push("tokenizer.json".into());
        assert_eq!(supported_tasks(&clip), vec![ZERO_SHOT_IMAGE_CLASSIFICATION]);
        let mut swin = facts(Some("swin"), &files);
        swin.architectures = vec!["SwinForImageClassification".into()];
        assert!(plan(&swin, None).is_err());
        assert_eq!(
            parse_task("zero_shot_image_classification").unwrap(),
            ZERO_SHOT_IMAGE_CLASSIFICATION
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
        assert_eq!(default_task(&blip), Some(IMAGE_TO_TEXT));
        assert_eq!(
            plan(&blip, None).unwrap(),
            Plan::new(IMAGE_TO_TEXT, BlipCaptioner)
        );
        assert_eq!(supported_tasks(&blip), vec![IMAGE_TO_TEXT]);
        assert_eq!(parse_task("caption").unwrap(), IMAGE_TO_TEXT);
        blip.files.retain(|f| f != "tokenizer.json");
        assert_eq!(
            plan(&blip, None).unwrap_err().to_string(),
            "not supported yet: BlipForConditionalGeneration without tokenizer.json for image-to-text"
        );
        let mut vqa = facts(Some("blip"), &files);
        vqa.architectures = vec!["BlipForQuestionAnswering".into()];
        assert_eq!(
            plan(&vqa, Some(IMAGE_TO_TEXT)).unwrap_err().to_string(),
            "not supported yet: BlipForQuestionAnswering for image-to-text"
        );
        for (model_type, architecture) in [
            ("blip-2", "Blip2ForConditionalGeneration"),
            ("git", "GitForCausalLM"),
            ("vision-encoder-decoder", "VisionEncoderDecoderModel"),
        ] {
            let mut other = facts(Some(model_type), &files);
            other.architectures = vec![architecture.into()];
            assert_eq!(default_task(&other), Some(IMAGE_TO_TEXT));
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
        assert_eq!(default_task(&f), Some(AUTOMATIC_SPEECH_RECOGNITION));
        assert_eq!(
            plan(&f, None).unwrap(),
            Plan::new(AUTOMATIC_SPEECH_RECOGNITION, WhisperCheckpoint)
        );
        assert_eq!(supported_tasks(&f), vec![AUTOMATIC_SPEECH_RECOGNITION]);
        assert_eq!(parse_task("asr").unwrap(), AUTOMATIC_SPEECH_RECOGNITION);
        f.files = vec!["config.json".into(), "pytorch_model.bin".into()];
        assert_eq!(
            plan(&f, None).unwrap_err().to_string(),
            "not supported yet: whisper without safetensors weights for automatic-speech-recognition"
        );
        let mut t5 = facts(Some("t5"), &["config.json", "model.safetensors"]);
        t5.architectures = vec!["T5ForConditionalGeneration".into()];
        assert_eq!(default_task(&t5), Some(TRANSLATION));
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
        assert_eq!(
            plan(&f, None).unwrap(),
            Plan::new(TRANSLATION, Seq2SeqModel::Marian)
        );
        assert_eq!(supported_tasks(&f), vec![TRANSLATION]);
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
}
