//! The runner: on a thread of its own, plans every entry for one task, then loads and runs
//! each in turn on an [`InferenceWorker`] and measures it, reporting [`Progress`] as it goes.
//! One model at a time, each gone before the next loads, so every peak is its own.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use super::comparison::{Comparison, Figures, RunResult, blind_order, fresh_seed};
use super::memory::PeakSampler;
use crate::infer::cached::CachedEntry;
use crate::infer::{
    CancelToken, DeviceRequest, Event, InferError, InferenceWorker, Output, Plan, Request, Task,
    Waker, device,
};
use crate::media::transcript::span;

/// Builds the request for the planned task (once per entry: a request is used up by its run).
pub type RequestFn = Box<dyn Fn(Task) -> Result<Request, InferError> + Send>;

/// How often the runner looks at the cancel flag while it waits for the model.
const POLL: Duration = Duration::from_millis(20);

/// How long the runner waits for a model's thread to give its memory back before the next.
const UNLOAD_WAIT: Duration = Duration::from_secs(10);

/// What to compare.
pub struct Job {
    /// The task (the first entry's own task when `None`).
    pub task: Option<Task>,
    /// The contenders, run in this order.
    pub entries: Vec<CachedEntry>,
    /// Where each runs.
    pub device: DeviceRequest,
    /// Builds each entry's request.
    pub request: RequestFn,
    /// The input as a person would describe it (for the export).
    pub input: String,
    /// Whether the names stay hidden until a vote (the runs are shown shuffled).
    pub blind: bool,
}

/// What the runner reports, in order: `Planned`, then per entry `Status`/`Loaded`/`Token`s and
/// `Done`, then `Finished`; or `Failed` when the comparison can't run at all.
#[derive(Debug)]
pub enum Progress {
    /// Every entry has a plan for `task`; the runs will be shown in `order`.
    Planned {
        /// The task they all run.
        task: Task,
        /// The shown order (indices into the entries), shuffled when blind.
        order: Vec<usize>,
    },
    /// A status line of entry `index` (loading steps).
    Status {
        /// The entry.
        index: usize,
        /// The line.
        line: String,
    },
    /// CachedEntry `index` has loaded and runs the request.
    Loaded {
        /// The entry.
        index: usize,
        /// What loaded.
        description: String,
    },
    /// A streamed piece of entry `index`'s answer (a token, a transcript line).
    Token {
        /// The entry.
        index: usize,
        /// The piece.
        piece: String,
    },
    /// CachedEntry `index` is done (answered, or failed: see its `error`).
    Done {
        /// The entry.
        index: usize,
        /// Its answer and figures.
        result: RunResult,
    },
    /// Every entry is done.
    Finished(Comparison),
    /// The comparison can't run: an entry can't be planned for the task, or the input is bad.
    Failed {
        /// The entry at fault, when one is.
        model: Option<String>,
        /// Why.
        error: InferError,
    },
}

/// A comparison running on its own thread. Dropping it (or [`Runner::cancel`]) stops it at
/// once: the model running is dropped and nothing more is reported.
pub struct Runner {
    events: Receiver<Progress>,
    cancel: CancelToken,
}

impl Runner {
    /// Starts `job`; `waker` is called after every report (the app passes a repaint).
    pub fn start(job: Job, waker: Option<Waker>) -> Runner {
        let (tx, events) = mpsc::channel();
        let cancel = CancelToken::new();
        let flag = cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("hubble-compare".into())
            .spawn(move || {
                let report = Report { tx, waker };
                run(job, &flag, &report);
            });
        // Without a thread the channel is closed at once: `recv` answers `None`.
        drop(spawned);
        Runner { events, cancel }
    }

    /// The next report if one is waiting (for a UI frame loop).
    pub fn try_recv(&self) -> Option<Progress> {
        self.events.try_recv().ok()
    }

    /// Waits for the next report; `None` once the runner has ended.
    pub fn recv(&self) -> Option<Progress> {
        self.events.recv().ok()
    }

    /// Stops the comparison: the running model is dropped within a few milliseconds.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Report {
    tx: Sender<Progress>,
    waker: Option<Waker>,
}

impl Report {
    fn send(&self, progress: Progress) {
        if self.tx.send(progress).is_ok()
            && let Some(waker) = &self.waker
        {
            waker.wake();
        }
    }
}

fn run(job: Job, cancel: &CancelToken, report: &Report) {
    let (task, plans) = match plan_all(&job) {
        Ok(planned) => planned,
        Err((model, error)) => return report.send(Progress::Failed { model, error }),
    };
    // The first open of a device loads its drivers (tens of MB that stay resident): done here,
    // before any model is measured, so the first model's peak doesn't carry them.
    drop(device::place(&job.device));
    let order = blind_order(plans.len(), job.blind, fresh_seed());
    report.send(Progress::Planned {
        task,
        order: order.clone(),
    });
    let mut runs = Vec::new();
    for (index, (entry, plan)) in job.entries.iter().zip(plans).enumerate() {
        let request = match (job.request)(task) {
            Ok(request) => request,
            Err(error) => return report.send(Progress::Failed { model: None, error }),
        };
        let measure = Measure {
            index,
            cancel,
            report,
        };
        let Some(result) = measure.run(entry, plan, request, &job.device) else {
            return;
        };
        report.send(Progress::Done {
            index,
            result: result.clone(),
        });
        runs.push(result);
    }
    let comparison = Comparison::new(task.to_string(), job.input, job.blind, order, runs);
    report.send(Progress::Finished(comparison));
}

/// Plans every entry for the job's task (the first entry's own when none is asked for).
fn plan_all(job: &Job) -> Result<(Task, Vec<Plan>), (Option<String>, InferError)> {
    fn at_fault(entry: &CachedEntry) -> impl FnOnce(InferError) -> (Option<String>, InferError) {
        let model = entry.to_string();
        move |error| (Some(model), error)
    }
    let first = job
        .entries
        .first()
        .ok_or_else(|| (None, InferError::InvalidInput("nothing to compare".into())))?;
    let task = match job.task {
        Some(task) => task,
        None => first.plan(None).map_err(at_fault(first))?.task,
    };
    let plans = job
        .entries
        .iter()
        .map(|entry| entry.plan(Some(task)).map_err(at_fault(entry)))
        .collect::<Result<Vec<Plan>, _>>()?;
    Ok((task, plans))
}

/// One entry's run, measured.
struct Measure<'a> {
    index: usize,
    cancel: &'a CancelToken,
    report: &'a Report,
}

/// What a run has gathered so far.
#[derive(Default)]
struct Gathered {
    loaded: Option<String>,
    submitted: Option<Instant>,
    answer: String,
    figures: Figures,
    output: Option<serde_json::Value>,
    error: Option<String>,
}

impl Measure<'_> {
    /// Loads and runs `entry`; `None` when cancelled meanwhile.
    fn run(
        &self,
        entry: &CachedEntry,
        plan: Plan,
        request: Request,
        device: &DeviceRequest,
    ) -> Option<RunResult> {
        let sampler = PeakSampler::start();
        let started = Instant::now();
        let mut worker = InferenceWorker::spawn(entry.dir.clone(), plan, device.clone());
        let mut request = Some(request);
        let mut run = Gathered::default();
        loop {
            if self.cancel.is_cancelled() {
                return None;
            }
            let event = match worker.recv_timeout(POLL) {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(error) => {
                    run.error = Some(error.to_string());
                    break;
                }
            };
            let finished = match event {
                Event::Loaded(description) => {
                    run.figures.load_s = Some(started.elapsed().as_secs_f64());
                    self.report.send(Progress::Loaded {
                        index: self.index,
                        description: description.clone(),
                    });
                    run.loaded = Some(description);
                    if let Some(request) = request.take()
                        && let Err(error) = worker.submit(request)
                    {
                        run.error = Some(error.to_string());
                        break;
                    }
                    run.submitted = Some(Instant::now());
                    false
                }
                event => self.take(event, &mut run),
            };
            if finished {
                break;
            }
        }
        let memory = sampler.finish();
        run.figures.peak_rss_bytes = memory.peak;
        run.figures.rss_rise_bytes = memory.rise();
        worker.close();
        self.wait_until_unloaded(&worker)?;
        Some(RunResult {
            model: Some(entry.to_string()),
            loaded: run.loaded,
            answer: run.answer.trim().to_string(),
            error: run.error,
            figures: run.figures,
            output: run.output,
            ..RunResult::default()
        })
    }

    /// Takes an event other than `Loaded`; whether the run is over.
    fn take(&self, event: Event, run: &mut Gathered) -> bool {
        let since_submit = || run.submitted.map(|at| at.elapsed().as_secs_f64());
        match event {
            Event::Status(line) => self.report.send(Progress::Status {
                index: self.index,
                line,
            }),
            Event::GpuMemory { bytes, .. } => run.figures.gpu_bytes = Some(bytes),
            Event::Token(piece) => {
                run.figures.first_token_s = run.figures.first_token_s.or_else(since_submit);
                run.answer.push_str(&piece);
                self.stream(piece);
            }
            Event::Segment(segment) => {
                run.figures.first_token_s = run.figures.first_token_s.or_else(since_submit);
                let line = format!("[{}] {}\n", span(segment.start, segment.end), segment.text);
                run.answer.push_str(&line);
                self.stream(line);
            }
            Event::Progress { .. } => {
                run.figures.first_token_s = run.figures.first_token_s.or_else(since_submit);
            }
            Event::Finished(output) => {
                run.figures.total_s = since_submit();
                finish(&output, run);
                return true;
            }
            Event::Failed(message) => {
                run.error = Some(match run.submitted {
                    Some(_) => message,
                    None => format!("could not load: {message}"),
                });
                return true;
            }
            Event::Loaded(_) => {}
        }
        false
    }

    fn stream(&self, piece: String) {
        self.report.send(Progress::Token {
            index: self.index,
            piece,
        });
    }

    /// Waits until the model's thread has ended (its memory given back), or the wait is too
    /// long; `None` when cancelled meanwhile.
    fn wait_until_unloaded(&self, worker: &InferenceWorker) -> Option<()> {
        let deadline = Instant::now() + UNLOAD_WAIT;
        while Instant::now() < deadline {
            if self.cancel.is_cancelled() {
                return None;
            }
            if worker.recv_timeout(POLL).is_err() {
                break;
            }
        }
        Some(())
    }
}

/// The answer's text (after what streamed), the generation figures and the task's JSON.
fn finish(output: &Output, run: &mut Gathered) {
    let mut text = Vec::new();
    if output.write_human(&mut text, &mut std::io::sink()).is_ok() {
        run.answer.push_str(&String::from_utf8_lossy(&text));
    }
    let json: Option<serde_json::Value> = output
        .to_json(false)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    if let Some(json) = &json {
        run.figures.generated_tokens = json.get("generated_tokens").and_then(|v| v.as_u64());
        run.figures.tokens_per_s = json.get("decode_tokens_per_s").and_then(|v| v.as_f64());
    }
    run.output = json;
}
