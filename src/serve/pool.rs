//! The models the server has loaded: one inference thread per (model, task), loaded on first
//! use from the cache (never downloaded), unloaded least recently used when the next one would
//! not fit the memory budget. A model runs one job at a time; the others wait their turn.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::openai::ApiError;
use crate::cache::CachedRepo;
use crate::fit::estimate::{EstimateOptions, estimate_sized};
use crate::fit::shape::ModelShape;
use crate::infer::cached::{CachedEntry, parse_name};
use crate::infer::tasks::text_generation::CausalSource;
use crate::infer::{
    DeviceRequest, Event, InferError, InferenceWorker, Output, Plan, Request, Task,
};

/// A loaded model, for the Server page.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSummary {
    /// The model's id.
    pub id: String,
    /// The task it was loaded for.
    pub task: Task,
    /// What was loaded, where.
    pub description: String,
    /// Fit's estimate of its memory.
    pub bytes: u64,
    /// Whether it is running a job now.
    pub busy: bool,
}

/// What a job left besides its output, for the log.
#[derive(Debug, Default)]
pub struct JobNotes {
    /// The model was loaded for this job: its description.
    pub loaded: Option<String>,
    /// Models unloaded to make room, by id.
    pub unloaded: Vec<String>,
    /// The client went away and the job was stopped.
    pub stopped: bool,
}

impl JobNotes {
    /// What the log adds after a job's own note: "; loaded …; unloaded … to make room".
    pub fn suffix(&self) -> String {
        let mut note = String::new();
        if let Some(loaded) = &self.loaded {
            note.push_str(&format!("; loaded {loaded}"));
        }
        if !self.unloaded.is_empty() {
            note.push_str(&format!(
                "; unloaded {} to make room",
                self.unloaded.join(", ")
            ));
        }
        note
    }
}

/// The server's models.
pub struct ModelPool {
    hub_cache: PathBuf,
    device: DeviceRequest,
    budget: u64,
    slots: Mutex<Vec<Arc<Slot>>>,
    clock: AtomicU64,
}

struct Slot {
    entry: CachedEntry,
    task: Task,
    plan: Plan,
    bytes: u64,
    last_used: AtomicU64,
    loaded: AtomicBool,
    /// The model's queue: held for a whole job (or load).
    model: Mutex<Option<Running>>,
}

struct Running {
    worker: InferenceWorker,
    description: String,
}

impl ModelPool {
    /// A pool over the models of `hub_cache`, computing on `device`, within `budget` bytes.
    pub fn new(hub_cache: PathBuf, device: DeviceRequest, budget: u64) -> ModelPool {
        ModelPool {
            hub_cache,
            device,
            budget,
            slots: Mutex::new(Vec::new()),
            clock: AtomicU64::new(0),
        }
    }

    /// The memory budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The loaded models, most recently used first.
    pub fn loaded(&self) -> Vec<LoadedSummary> {
        let mut slots = self.slots();
        slots.retain(|slot| slot.loaded.load(Ordering::SeqCst));
        slots.sort_by_key(|slot| std::cmp::Reverse(slot.last_used.load(Ordering::SeqCst)));
        slots
            .iter()
            .map(|slot| {
                let (busy, description) = match slot.model.try_lock() {
                    Ok(guard) => (false, guard.as_ref().map(|r| r.description.clone())),
                    Err(_) => (true, None),
                };
                LoadedSummary {
                    id: slot.entry.to_string(),
                    task: slot.task,
                    description: description.unwrap_or_else(|| "running a job".into()),
                    bytes: slot.bytes,
                    busy,
                }
            })
            .collect()
    }

    /// Unloads every model that is not running a job (the server stops).
    pub fn unload_all(&self) {
        for slot in self.slots() {
            if let Ok(mut model) = slot.model.try_lock() {
                model.take();
                slot.loaded.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Whether model `id` is in the cache and can serve `task` (planned once, kept).
    pub fn check(&self, id: &str, task: Task) -> Result<(), ApiError> {
        self.slot(id, task).map(|_| ())
    }

    /// Runs `request` on model `id` loaded for `task`, loading it first if needed; blocks (call
    /// it off the async threads). `on_token` gets each streamed piece and returns false when
    /// nobody wants more (the client went away, a stop string): the job is then cancelled.
    pub fn run(
        &self,
        id: &str,
        task: Task,
        request: Request,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(Output, JobNotes), ApiError> {
        let slot = self.slot(id, task)?;
        let mut notes = JobNotes::default();
        let mut model = slot.model.lock().unwrap_or_else(|e| e.into_inner());
        slot.last_used
            .store(self.clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        if model.is_none() {
            notes.unloaded = self.make_room(&slot);
            let running = self.load(&slot)?;
            notes.loaded = Some(running.description.clone());
            *model = Some(running);
            slot.loaded.store(true, Ordering::SeqCst);
        }
        let Some(running) = model.as_ref() else {
            unreachable!("loaded just above");
        };
        running
            .worker
            .submit(request)
            .map_err(|e| ApiError::server(e.to_string()))?;
        loop {
            match running.worker.recv() {
                Some(Event::Token(piece)) => {
                    if !notes.stopped && !on_token(&piece) {
                        notes.stopped = true;
                        running.worker.cancel();
                    }
                }
                Some(Event::Finished(output)) => return Ok((output, notes)),
                Some(Event::Failed(message)) => return Err(ApiError::server(message)),
                Some(_) => {}
                None => {
                    model.take();
                    slot.loaded.store(false, Ordering::SeqCst);
                    return Err(ApiError::server(
                        "the model's inference thread stopped; the next request loads it again",
                    ));
                }
            }
        }
    }

    /// [`ModelPool::run`] for a job that streams nothing, with its output as `T`.
    pub fn run_for<T: Any>(
        &self,
        id: &str,
        task: Task,
        request: Request,
    ) -> Result<(T, JobNotes), ApiError> {
        let (output, notes) = self.run(id, task, request, &mut |_| true)?;
        let value = output.take::<T>().map_err(|_| {
            ApiError::server(format!("{id} answered {task} with something unexpected"))
        })?;
        Ok((value, notes))
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The slot of (`id`, `task`), planned from the cache the first time.
    fn slot(&self, id: &str, task: Task) -> Result<Arc<Slot>, ApiError> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots
            .iter()
            .find(|s| s.entry.to_string() == id && s.task == task)
        {
            return Ok(slot.clone());
        }
        let (entry, plan) = plan_cached(&self.hub_cache, id, task)?;
        let bytes = memory_needed(&entry.dir, &plan);
        let slot = Arc::new(Slot {
            entry,
            task,
            plan,
            bytes,
            last_used: AtomicU64::new(0),
            loaded: AtomicBool::new(false),
            model: Mutex::new(None),
        });
        slots.push(slot.clone());
        Ok(slot)
    }

    /// Unloads idle models, least recently used first, until `slot` fits the budget; returns
    /// their ids. Models running a job stay (the new one then loads over the budget).
    fn make_room(&self, slot: &Arc<Slot>) -> Vec<String> {
        let mut others: Vec<Arc<Slot>> = self
            .slots()
            .into_iter()
            .filter(|s| !Arc::ptr_eq(s, slot) && s.loaded.load(Ordering::SeqCst))
            .collect();
        others.sort_by_key(|s| s.last_used.load(Ordering::SeqCst));
        let mut in_use: u64 = others.iter().map(|s| s.bytes).sum();
        let mut unloaded = Vec::new();
        for other in others {
            if in_use + slot.bytes <= self.budget {
                break;
            }
            if let Ok(mut model) = other.model.try_lock()
                && model.take().is_some()
            {
                other.loaded.store(false, Ordering::SeqCst);
                in_use -= other.bytes;
                unloaded.push(other.entry.to_string());
            }
        }
        unloaded
    }

    fn load(&self, slot: &Slot) -> Result<Running, ApiError> {
        let worker = InferenceWorker::spawn(
            slot.entry.dir.clone(),
            slot.plan.clone(),
            self.device.clone(),
        );
        loop {
            match worker.recv() {
                Some(Event::Loaded(description)) => {
                    return Ok(Running {
                        worker,
                        description,
                    });
                }
                Some(Event::Failed(message)) => {
                    return Err(ApiError::server(format!(
                        "could not load {}: {message}",
                        slot.entry
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(ApiError::server(format!(
                        "could not load {}: the inference thread stopped",
                        slot.entry
                    )));
                }
            }
        }
    }
}

/// Model `id` (`org/name[:FILE.gguf]`) at `main` in the cache and its plan for `task`, or
/// OpenAI's 404 saying how to get it.
pub fn plan_cached(
    hub_cache: &Path,
    id: &str,
    task: Task,
) -> Result<(CachedEntry, Plan), ApiError> {
    let (repo, file) = parse_name(id).map_err(|e| {
        ApiError::model_not_found(format!(
            "The model `{id}` is not a model id ({e}): use org/name or org/name:FILE.gguf"
        ))
    })?;
    let dir = CachedRepo::new(hub_cache, &repo)
        .snapshot_dir("main")
        .filter(|dir| dir.is_dir())
        .ok_or_else(|| {
            ApiError::model_not_found(format!(
                "The model `{id}` is not in the Hugging Face cache at {}: download it first \
                 (`hubble download {repo}`); this server never downloads on its own",
                hub_cache.display(),
            ))
        })?;
    let entry = CachedEntry { repo, file, dir };
    let plan = entry.plan(Some(task)).map_err(|e| match e {
        InferError::MissingFile { what, .. } => {
            ApiError::model_not_found(format!("`{id}`: no file {what} in the cache"))
        }
        e => ApiError::bad_param("model", format!("`{id}` can't serve {task}: {e}")),
    })?;
    Ok((entry, plan))
}

/// Fit's estimate for a planned model: its weight files as stored, the KV cache at the
/// model's default context, and the runtime's overhead.
fn memory_needed(dir: &Path, plan: &Plan) -> u64 {
    let gguf = match plan.loader::<CausalSource>() {
        Ok(CausalSource::Gguf { file, .. }) => Some(file.as_str()),
        _ => None,
    };
    let files = crate::cache::files_under(dir);
    let weights: Vec<&(String, PathBuf)> = match gguf {
        Some(gguf) => files.iter().filter(|(name, _)| name == gguf).collect(),
        None => files
            .iter()
            .filter(|(name, _)| name.ends_with(".safetensors") || name.ends_with(".bin"))
            .collect(),
    };
    let bytes = weights
        .iter()
        .filter_map(|(_, path)| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let shape = match gguf {
        Some(gguf) => gguf_shape(&dir.join(gguf)),
        None => crate::infer::read_json(&dir.join("config.json"))
            .map(|config| ModelShape::from_config(&config))
            .unwrap_or_default(),
    };
    estimate_sized(bytes, "as stored", &shape, &EstimateOptions::default()).total_bytes
}

/// The shape a GGUF file's header gives (its first 16 MiB; the default when unreadable).
fn gguf_shape(path: &Path) -> ModelShape {
    use std::io::Read;
    let mut prefix = Vec::new();
    let read = std::fs::File::open(path).and_then(|file| {
        let len = file.metadata()?.len();
        file.take(16 << 20).read_to_end(&mut prefix)?;
        Ok(len)
    });
    read.ok()
        .and_then(|len| crate::fit::gguf::parse(&prefix, Some(len)).ok())
        .map(|header| ModelShape::from_gguf(&header))
        .unwrap_or_default()
}

/// The RAM free now: the default memory budget.
pub fn free_memory() -> u64 {
    crate::fit::system::probe_memory().available
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_not_in_the_cache_is_a_404_that_says_how_to_get_it() {
        let cache = tempfile::tempdir().unwrap();
        let pool = ModelPool::new(cache.path().to_path_buf(), DeviceRequest::Cpu, 1 << 30);
        let error = pool
            .run(
                "org/absent",
                crate::infer::registry::parse_task("text-generation").unwrap(),
                Request::new(()),
                &mut |_| true,
            )
            .unwrap_err();
        assert_eq!(error.status, hyper::StatusCode::NOT_FOUND);
        assert!(
            error.message.contains("hubble download org/absent"),
            "{}",
            error.message
        );
    }
}
