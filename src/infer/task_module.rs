//! What one task file gives the registry: the pipeline tags it answers, its part of planning
//! (from Hub metadata or a folder), loading, and its `hubble run` arguments. The registry is a
//! list of these; nothing else in the house matches over every task.

use std::path::Path;

use candle_core::Device;

use super::InferError;
use super::facts::ModelFacts;
use super::pipeline::{LoadedPipeline, Request, RunContext, Task};
use super::plan::Plan;
use super::run_input::RunInput;

/// How sure a task file is that a model is for its task when the model names no pipeline tag.
/// The strongest evidence wins; ties go to the earlier file in the registry's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// The files say so (a GGUF, sentence-transformers' modules.json).
    Files,
    /// config.json's `model_type` says so (whisper, clip, wav2vec2 …).
    ModelType,
    /// config.json's architecture has the task's head (`…ForQuestionAnswering`).
    Head,
}

/// Loads a planned model from its folder onto a device (a task's [`erase`]`::<P>`).
///
/// [`erase`]: super::pipeline::erase
pub type LoadFn =
    fn(&Path, &Plan, &Device, &RunContext) -> Result<Box<dyn LoadedPipeline>, InferError>;

/// One task file, as the registry sees it.
pub trait TaskModule: Sync {
    /// The pipeline tags it answers, in the order the Try tab lists them.
    fn tasks(&self) -> &'static [Task];

    /// Other names `hubble run --task` accepts for its tasks.
    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[]
    }

    /// The task this model is for, judging by its files and config (no pipeline tag known).
    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        let _ = facts;
        None
    }

    /// How to load this model for `task` (one of [`TaskModule::tasks`]), or why it can't run.
    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError>;

    /// How the planned model is loaded, ready for requests: `erase::<ThePipeline>`.
    fn loader(&self) -> LoadFn;

    /// The arguments `hubble run` gains for this task (ids shared with another task's are
    /// defined once, by the first file in the list).
    fn cli_args(&self) -> Vec<clap::Arg> {
        Vec::new()
    }

    /// The request `hubble run`'s arguments describe.
    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError>;
}

/// "not supported yet: <architecture> for <task>".
pub fn not_supported(architecture: impl Into<String>, task: Task) -> InferError {
    InferError::NotSupported {
        architecture: architecture.into(),
        task: task.to_string(),
    }
}

/// The head-suffix guess most task files make: an architecture ending in `suffix`.
pub fn guess_by_head(facts: &ModelFacts, suffix: &str, task: Task) -> Option<(Evidence, Task)> {
    facts
        .architectures
        .iter()
        .any(|a| a.ends_with(suffix))
        .then_some((Evidence::Head, task))
}
