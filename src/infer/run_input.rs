//! `hubble run`'s parsed arguments as a task file reads them: the shared ones (`--input`,
//! `--input-file`, sampling) and the task's own, by id.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use super::InferError;
use super::pipeline::Task;

/// The parsed `hubble run` command line.
#[derive(Debug, Clone)]
pub struct RunInput {
    matches: clap::ArgMatches,
}

impl RunInput {
    /// Wraps what clap parsed.
    pub fn new(matches: clap::ArgMatches) -> RunInput {
        RunInput { matches }
    }

    /// The value of a single-valued argument, if given (or defaulted).
    pub fn value<T: Clone + Send + Sync + 'static>(&self, id: &str) -> Option<T> {
        self.matches.try_get_one::<T>(id).ok().flatten().cloned()
    }

    /// A string argument, trimmed; empty counts as absent.
    pub fn string(&self, id: &str) -> Option<String> {
        self.value::<String>(id)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Whether a flag was given.
    pub fn flag(&self, id: &str) -> bool {
        self.value::<bool>(id).unwrap_or(false)
    }

    /// A comma-separated list (`--labels a,b,c`), trimmed, empty items dropped.
    pub fn list(&self, id: &str) -> Vec<String> {
        self.string(id)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// `--input-file`, if given.
    pub fn input_file(&self) -> Option<PathBuf> {
        self.value::<PathBuf>("input_file")
    }

    /// The input texts: each `--input`, or the non-empty lines of `--input-file` (`-` is stdin).
    pub fn texts(&self) -> Result<Vec<String>, InferError> {
        let texts = match self.input_file() {
            Some(path) => read_text(&path)?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            None => self.inputs(),
        };
        non_empty(texts)
    }

    /// The input as one text: the `--input`s joined by new lines, or the whole `--input-file`.
    pub fn text(&self) -> Result<String, InferError> {
        let text = match self.input_file() {
            Some(path) => read_text(&path)?,
            None => self.inputs().join("\n"),
        };
        non_empty(vec![text]).map(|mut texts| texts.remove(0))
    }

    /// `--input-file` decoded as an image (size limits as in the app).
    pub fn image(&self, task: Task) -> Result<Arc<RgbImage>, InferError> {
        let path = self.input_file().ok_or_else(|| {
            InferError::InvalidInput(format!("{task} needs an image: pass --input-file IMAGE"))
        })?;
        let image = crate::media::load_image(&path).map_err(|e| InferError::file(&path, e))?;
        Ok(Arc::new(image))
    }

    /// The image named by the task's own `--<id> FILE`, else by `--input-file`, decoded.
    pub fn image_at(&self, id: &str, task: Task) -> Result<Arc<RgbImage>, InferError> {
        let path = self
            .value::<PathBuf>(id)
            .or_else(|| self.input_file())
            .ok_or_else(|| {
                InferError::InvalidInput(format!("{task} needs an image: pass --{id} IMAGE"))
            })?;
        let image = crate::media::load_image(&path).map_err(|e| InferError::file(&path, e))?;
        Ok(Arc::new(image))
    }

    /// `--input` alone (lines joined), for tasks whose `--input-file` is not text.
    pub fn typed_text(&self) -> Result<String, InferError> {
        let text = self.inputs().join("\n");
        if text.trim().is_empty() {
            return Err(InferError::InvalidInput(
                "no input: pass --input TEXT".into(),
            ));
        }
        Ok(text)
    }

    /// `--input-file` decoded as 16 kHz mono audio.
    pub fn audio(&self, task: Task) -> Result<Vec<f32>, InferError> {
        let path = self.input_file().ok_or_else(|| {
            InferError::InvalidInput(format!(
                "{task} needs an audio file: pass --input-file FILE"
            ))
        })?;
        crate::media::audio::load_16k_mono(&path)
            .map(|clip| clip.samples)
            .map_err(|e| InferError::InvalidInput(e.to_string()))
    }

    fn inputs(&self) -> Vec<String> {
        self.matches
            .try_get_many::<String>("input")
            .ok()
            .flatten()
            .map(|values| values.cloned().collect())
            .unwrap_or_default()
    }
}

/// A file's text, or stdin's for `-`.
pub fn read_text(path: &Path) -> Result<String, InferError> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| InferError::file(path, e))
}

fn non_empty(texts: Vec<String>) -> Result<Vec<String>, InferError> {
    if texts.is_empty() || texts.iter().all(|t| t.trim().is_empty()) {
        return Err(InferError::InvalidInput(
            "no input: pass --input TEXT or --input-file FILE".into(),
        ));
    }
    Ok(texts)
}
