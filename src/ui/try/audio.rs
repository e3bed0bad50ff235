//! The audio view of the Try tab, for speech recognition and audio classification: audio from
//! the microphone (device picker, record/stop, level meter) or from a file (typed path,
//! **Open…** or dropped anywhere on the view, through
//! [`file_input`](crate::ui::r#try::file_input)), a live waveform and spectrogram
//! ([`audio_visual`](crate::ui::r#try::audio_visual)); then Whisper's options and the transcript
//! streaming in segment by segment with Copy and Save as .txt / .srt (a click on a segment plays
//! that stretch of the audio, [`Playback`] on its own thread, highlighted), or Classify and the
//! clip's labels as probability bars.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, RichText};

use crate::infer::tasks::audio_classification::{AUDIO_CLASSIFICATION, AudioLabels, AudioRequest};
use crate::infer::tasks::speech_recognition::{
    AUTOMATIC_SPEECH_RECOGNITION, SpeechRequest, SpeechTask, Transcript,
};
use crate::infer::{Output, Request, Task};
use crate::media::audio::{EXTENSIONS, TARGET_RATE, decode_16k_mono, load_16k_mono};
use crate::media::audio_device::AudioDevice;
use crate::media::audio_resample::resample_mono;
use crate::media::mic::{Recorder, input_devices};
use crate::media::playback::{Playback, PlaybackState, output_devices, segment_range};
use crate::media::transcript::{clock, span, to_srt, to_text};
use crate::results::Segment;
use crate::ui::runtime::background::Background;
use crate::ui::r#try::audio_visual::{self, Picture};
use crate::ui::r#try::file_input::{Accept, FileInput, Picked};
use crate::ui::r#try::{TaskView, ViewContext, ViewRequest};
use crate::ui::widgets::label_bars;

/// Audio ready to transcribe: 16 kHz mono, where it came from, and the file it was read from.
struct Clip {
    label: String,
    samples: Arc<[f32]>,
    source: Option<PathBuf>,
}

/// The input and output devices, listed off the UI thread.
#[derive(Clone, Default)]
struct Devices {
    inputs: Vec<AudioDevice>,
    outputs: Vec<AudioDevice>,
}

/// The speech view's state.
pub struct AudioView {
    input: FileInput,
    devices: Option<Devices>,
    devices_pending: Option<Background<Devices>>,
    /// The microphone's id.
    device: Option<String>,
    /// The output device's id (segments play there).
    speaker: Option<String>,
    recorder: Option<Recorder>,
    /// The microphone being opened (cpal may take a while): on its own thread.
    recorder_pending: Option<Background<Result<Recorder, String>>>,
    clip: Option<Clip>,
    clip_pending: Option<Background<Result<Clip, String>>>,
    path: String,
    language: String,
    translate: bool,
    timestamps: bool,
    segments: Vec<Segment>,
    result: Option<Transcript>,
    /// Audio classification's labels for the last clip.
    labels: Option<AudioLabels>,
    error: Option<String>,
    note: Option<String>,
    save_pending: Option<Background<Result<String, String>>>,
    /// The audio the shown segments were transcribed from (what a click on one plays).
    transcribed: Option<Arc<[f32]>>,
    /// The segment playing (its index) and its playback.
    playback: Option<(usize, Playback)>,
}

impl Default for AudioView {
    fn default() -> AudioView {
        AudioView {
            input: FileInput::new(Accept::AUDIO),
            devices: None,
            devices_pending: None,
            device: None,
            speaker: None,
            recorder: None,
            recorder_pending: None,
            clip: None,
            clip_pending: None,
            path: String::new(),
            language: String::new(),
            translate: false,
            timestamps: false,
            segments: Vec::new(),
            result: None,
            labels: None,
            error: None,
            note: None,
            save_pending: None,
            transcribed: None,
            playback: None,
        }
    }
}

impl AudioView {
    /// A segment of the running transcription arrived.
    pub fn on_segment(&mut self, segment: Segment) {
        self.segments.push(segment);
    }

    /// The transcription finished.
    pub fn on_finished(&mut self, transcript: Transcript) {
        self.segments = transcript.segments.clone();
        self.result = Some(transcript);
        self.error = None;
    }

    /// The job failed.
    pub fn on_failed(&mut self, message: &str) {
        self.error = Some(message.to_string());
    }

    /// Shows the view for speech recognition or audio classification; `busy` while a job runs.
    pub fn show(&mut self, ui: &mut egui::Ui, task: Task, busy: bool) -> ViewRequest {
        self.poll(ui.ctx());
        let area = ui.max_rect();
        let mut picked = self.input.drop_zone(ui, area);
        self.microphone_row(ui);
        self.file_row(ui, &mut picked);
        if let Some(picked) = picked {
            self.open_picked(ui.ctx(), picked);
        }
        self.picture(ui);
        let request = if task == AUDIO_CLASSIFICATION {
            self.classify_row(ui, busy)
        } else {
            self.options_row(ui, busy)
        };
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if let Some(note) = &self.note {
            ui.label(RichText::new(note).weak());
        }
        if task == AUDIO_CLASSIFICATION {
            if let Some(labels) = &self.labels {
                ui.separator();
                ui.label(RichText::new(format!("{:.1} s of audio", labels.audio_seconds)).weak());
                label_bars(ui, &labels.labels);
            }
        } else {
            self.transcript(ui);
        }
        request
    }

    /// Audio classification's row: Classify the recorded or opened clip.
    fn classify_row(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        ui.horizontal(|ui| {
            let ready = !busy && self.recorder.is_none() && self.clip.is_some();
            if ui
                .add_enabled(ready, egui::Button::new("Classify"))
                .clicked()
                && let Some(clip) = &self.clip
            {
                self.labels = None;
                self.error = None;
                request = ViewRequest::Run(Request::new(AudioRequest {
                    samples: clip.samples.to_vec(),
                    top_k: None,
                }));
            }
            if busy {
                ui.spinner();
            }
        });
        request
    }

    fn poll(&mut self, ctx: &egui::Context) {
        if self.devices.is_none() && self.devices_pending.is_none() {
            self.devices_pending = Some(Background::spawn_thread(ctx, || Devices {
                inputs: input_devices(),
                outputs: output_devices(),
            }));
        }
        if let Some(answer) = self.devices_pending.as_ref().and_then(Background::poll) {
            // A failed listing (a panicking driver) counts as no devices.
            let devices = answer.unwrap_or_default();
            let first = |list: &[AudioDevice]| list.first().map(|d| d.id.clone());
            self.device = self.device.take().or_else(|| first(&devices.inputs));
            self.speaker = self.speaker.take().or_else(|| first(&devices.outputs));
            self.devices = Some(devices);
            self.devices_pending = None;
        }
        if let Some(result) = self.clip_pending.as_ref().and_then(Background::poll) {
            self.clip_pending = None;
            let result = result.and_then(|clip| clip);
            match result {
                Ok(clip) => {
                    self.clip = Some(clip);
                    self.error = None;
                }
                Err(message) => self.error = Some(message),
            }
        }
        if let Some(result) = self.save_pending.as_ref().and_then(Background::poll) {
            self.save_pending = None;
            let result = result.and_then(|saved| saved);
            match result {
                Ok(note) => self.note = Some(note),
                Err(message) => self.error = Some(message),
            }
        }
        let ended = self.playback.as_ref().and_then(|(_, p)| match p.state() {
            PlaybackState::Starting | PlaybackState::Playing { .. } => None,
            PlaybackState::Finished | PlaybackState::Stopped => Some(None),
            PlaybackState::Failed(message) => Some(Some(message)),
        });
        if let Some(failure) = ended {
            self.playback = None;
            if failure.is_some() {
                self.error = failure;
            }
        }
    }

    fn microphone_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let inputs = self
                .devices
                .as_ref()
                .map(|d| d.inputs.clone())
                .unwrap_or_default();
            ui.add_enabled_ui(self.recorder.is_none(), |ui| {
                device_picker(ui, "Microphone", &inputs, &mut self.device);
            });
            if ui
                .add_enabled(self.recorder.is_none(), egui::Button::new("Refresh"))
                .on_hover_text("List the audio devices again")
                .clicked()
            {
                self.devices = None;
            }
            if let Some(started) = self.recorder_pending.as_ref().and_then(Background::poll) {
                self.recorder_pending = None;
                match started.and_then(|recorder| recorder) {
                    Ok(recorder) => {
                        self.recorder = Some(recorder);
                        self.error = None;
                    }
                    Err(message) => self.error = Some(message),
                }
            }
            match &self.recorder {
                None if self.recorder_pending.is_some() => {
                    ui.spinner();
                    ui.label("Opening the microphone…");
                }
                None => {
                    if ui.button("⏺ Record").clicked() {
                        let device = self.device.clone();
                        let repaint = ui.ctx().clone();
                        self.recorder_pending =
                            Some(Background::spawn_thread(ui.ctx(), move || {
                                Recorder::start(device.as_deref(), move || {
                                    repaint.request_repaint()
                                })
                            }));
                    }
                }
                Some(recorder) => {
                    let level = recorder.level();
                    let seconds = recorder.seconds();
                    if ui.button("⏹ Stop").clicked() {
                        self.stop_recording(ui.ctx());
                    } else {
                        ui.add(
                            egui::ProgressBar::new(level)
                                .desired_width(160.0)
                                .text(format!("level {:.0}%", level * 100.0)),
                        );
                        ui.label(format!("recording {}", clock(seconds)));
                    }
                }
            }
            if inputs.is_empty() && self.devices.is_some() {
                ui.label(RichText::new("no input device found").weak());
            }
        });
        if let Some(error) = self.recorder.as_ref().and_then(Recorder::error) {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
    }

    fn stop_recording(&mut self, ctx: &egui::Context) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        let device = recorder.device().to_string();
        let clip = recorder.stop();
        self.spawn_clip(ctx, move || {
            let samples = resample_mono(&clip.samples, clip.rate, TARGET_RATE)?;
            Ok(Clip {
                label: format!("recording from {device}"),
                samples: samples.into(),
                source: None,
            })
        });
    }

    /// The typed path with its Open button, and **Open…** (the dialog), which sets `picked`.
    fn file_row(&mut self, ui: &mut egui::Ui, picked: &mut Option<Picked>) {
        ui.horizontal(|ui| {
            let label = ui.label("Audio file");
            ui.add(
                egui::TextEdit::singleline(&mut self.path)
                    .hint_text(format!(
                        "path to a {} file, or drop one here",
                        EXTENSIONS.join("/")
                    ))
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
            if ui
                .add_enabled(!self.path.trim().is_empty(), egui::Button::new("Open"))
                .clicked()
            {
                let path = PathBuf::from(self.path.trim());
                self.open(ui.ctx(), path);
            }
            if let Some(p) = self.input.open_button(ui) {
                *picked = Some(p);
            }
            if self.clip_pending.is_some() {
                ui.spinner();
            }
        });
        self.input.show_refusal(ui);
    }

    /// A file from the dialog or dropped on the view.
    fn open_picked(&mut self, ctx: &egui::Context, picked: Picked) {
        match picked {
            Picked::File(path) => {
                self.path = path.display().to_string();
                self.open(ctx, path);
            }
            Picked::Bytes { name, bytes } => self.spawn_clip(ctx, move || {
                let clip = decode_16k_mono(&name, bytes).map_err(|e| e.to_string())?;
                Ok(Clip {
                    label: name,
                    samples: clip.samples.into(),
                    source: None,
                })
            }),
            Picked::Pasted(_) => {
                self.error = Some("A pasted image is no audio: open or drop an audio file".into());
            }
        }
    }

    fn open(&mut self, ctx: &egui::Context, path: PathBuf) {
        self.spawn_clip(ctx, move || {
            let clip = load_16k_mono(&path).map_err(|e| e.to_string())?;
            Ok(Clip {
                label: path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                ),
                samples: clip.samples.into(),
                source: Some(path),
            })
        });
    }

    /// Decodes or resamples off the UI thread.
    fn spawn_clip(
        &mut self,
        ctx: &egui::Context,
        work: impl FnOnce() -> Result<Clip, String> + Send + 'static,
    ) {
        self.clip_pending = Some(Background::spawn_thread(ctx, work));
    }

    fn picture(&mut self, ui: &mut egui::Ui) {
        let picture = match (&self.recorder, &self.clip) {
            (Some(recorder), _) => {
                let rate = recorder.rate();
                let tail = recorder.tail((audio_visual::SECONDS * rate as f32) as usize);
                Picture::from_samples(&tail, rate)
            }
            (None, Some(clip)) => Picture::from_samples(&clip.samples, TARGET_RATE),
            (None, None) => Picture::from_samples(&[], TARGET_RATE),
        };
        let width = ui.available_width().min(900.0);
        let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 180.0), egui::Sense::hover());
        audio_visual::paint(ui, rect, picture);
        if let Some(clip) = &self.clip {
            ui.label(
                RichText::new(format!(
                    "{} · {}",
                    clip.label,
                    clock(clip.samples.len() as f64 / f64::from(TARGET_RATE))
                ))
                .weak(),
            );
        }
    }

    fn options_row(&mut self, ui: &mut egui::Ui, busy: bool) -> ViewRequest {
        let mut request = ViewRequest::None;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Language");
            ui.add(
                egui::TextEdit::singleline(&mut self.language)
                    .hint_text("detect")
                    .desired_width(60.0),
            )
            .labelled_by(label.id);
            ui.checkbox(&mut self.translate, "Translate to English");
            ui.checkbox(&mut self.timestamps, "Timestamps");
            let ready = !busy && self.recorder.is_none() && self.clip.is_some();
            if ui
                .add_enabled(ready, egui::Button::new("Transcribe"))
                .clicked()
                && let Some(clip) = &self.clip
            {
                self.segments.clear();
                self.result = None;
                self.error = None;
                self.note = None;
                self.playback = None;
                self.transcribed = Some(Arc::clone(&clip.samples));
                let language = self.language.trim();
                request = ViewRequest::Run(Request::new(SpeechRequest {
                    samples: clip.samples.to_vec(),
                    language: (!language.is_empty()).then(|| language.to_string()),
                    task: if self.translate {
                        SpeechTask::Translate
                    } else {
                        SpeechTask::Transcribe
                    },
                    timestamps: self.timestamps,
                }));
            }
            if busy {
                ui.spinner();
                if ui.button("Stop").clicked() {
                    request = ViewRequest::Stop;
                }
            }
        });
        request
    }

    fn transcript(&mut self, ui: &mut egui::Ui) {
        if self.segments.is_empty() {
            return;
        }
        ui.separator();
        if let Some(result) = &self.result {
            ui.label(
                RichText::new(format!(
                    "{} of audio in {:.1} s (real-time factor {:.2}){}",
                    clock(result.audio_seconds),
                    result.elapsed_seconds,
                    result.real_time_factor,
                    result
                        .language
                        .as_ref()
                        .map(|l| format!(" · language {l}"))
                        .unwrap_or_default()
                ))
                .weak(),
            );
        }
        ui.horizontal(|ui| {
            if ui.button("Copy").clicked() {
                let text: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
                ui.ctx().copy_text(text.join(" "));
                self.note = Some("Transcript copied".into());
            }
            for (button, extension) in [("Save .txt", "txt"), ("Save .srt", "srt")] {
                if ui.button(button).clicked() {
                    self.save(ui.ctx(), extension);
                }
            }
            let outputs = self
                .devices
                .as_ref()
                .map(|d| d.outputs.clone())
                .unwrap_or_default();
            device_picker(ui, "Speaker", &outputs, &mut self.speaker);
            if self.playback.is_some() && ui.button("⏹ Stop playback").clicked() {
                self.playback = None;
            }
        });
        let playing = self.playback.as_ref().map(|(index, _)| *index);
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .auto_shrink([false, true])
            .max_height(240.0)
            .show(ui, |ui| {
                for (index, segment) in self.segments.iter().enumerate() {
                    if segment_row(ui, segment, playing == Some(index)).clicked() {
                        clicked = Some(index);
                    }
                }
            });
        match clicked {
            Some(index) if playing == Some(index) => self.playback = None,
            Some(index) => self.play_segment(ui.ctx(), index),
            None => {}
        }
    }

    /// Plays segment `index` of the transcribed audio, replacing (and so stopping) what plays.
    fn play_segment(&mut self, ctx: &egui::Context, index: usize) {
        let (Some(samples), Some(segment)) = (&self.transcribed, self.segments.get(index)) else {
            return;
        };
        let range = segment_range(samples.len(), TARGET_RATE, segment.start, segment.end);
        let ctx = ctx.clone();
        let playback = Playback::start(
            samples[range].to_vec(),
            TARGET_RATE,
            self.speaker.clone(),
            move || ctx.request_repaint(),
        );
        self.playback = Some((index, playback));
        self.error = None;
    }

    /// Writes the transcript next to the audio file (recordings: in the home folder), off the
    /// UI thread; the note says where.
    fn save(&mut self, ctx: &egui::Context, extension: &str) {
        let base = self
            .clip
            .as_ref()
            .and_then(|c| c.source.clone())
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").map_or_else(PathBuf::new, PathBuf::from);
                home.join(format!(
                    "hubble-recording-{}",
                    chrono::Local::now().format("%Y%m%d-%H%M%S")
                ))
            });
        let path = base.with_extension(extension);
        let text = if extension == "srt" {
            to_srt(&self.segments)
        } else {
            to_text(&self.segments)
        };
        self.save_pending = Some(Background::spawn_thread(ctx, move || {
            std::fs::write(&path, text)
                .map(|()| format!("Saved to {}", path.display()))
                .map_err(|e| format!("Could not save {}: {e}", path.display()))
        }));
    }
}

/// One transcript segment: times and text on a selectable row, highlighted while it plays; its
/// accessible label says what a click does.
fn segment_row(ui: &mut egui::Ui, segment: &Segment, playing: bool) -> egui::Response {
    let times = span(segment.start, segment.end);
    let mut job = egui::text::LayoutJob::default();
    RichText::new(format!("{times}  "))
        .monospace()
        .weak()
        .append_to(
            &mut job,
            ui.style(),
            egui::FontSelection::Default,
            egui::Align::Center,
        );
    RichText::new(segment.text.trim()).append_to(
        &mut job,
        ui.style(),
        egui::FontSelection::Default,
        egui::Align::Center,
    );
    let label = format!(
        "Play segment {}–{}",
        clock(segment.start),
        clock(segment.end)
    );
    let response = ui
        .add(egui::Button::selectable(playing, job).wrap())
        .on_hover_text(if playing { "Stop" } else { "Play this segment" });
    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, playing, &label));
    response
}

/// A device picker labelled `name`; `selected` holds the chosen device's id.
fn device_picker(
    ui: &mut egui::Ui,
    name: &str,
    devices: &[AudioDevice],
    selected: &mut Option<String>,
) {
    let label = ui.label(name);
    let shown = devices
        .iter()
        .find(|d| Some(&d.id) == selected.as_ref())
        .map_or("—".to_string(), |d| d.name.clone());
    egui::ComboBox::from_id_salt(("audio-device", name))
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for d in devices {
                let name = if d.is_default {
                    format!("{} (default)", d.name)
                } else {
                    d.name.clone()
                };
                ui.selectable_value(selected, Some(d.id.clone()), name);
            }
        })
        .response
        .labelled_by(label.id);
}

impl TaskView for AudioView {
    fn shows(&self, task: Task) -> bool {
        task == AUTOMATIC_SPEECH_RECOGNITION || task == AUDIO_CLASSIFICATION
    }

    fn show(&mut self, ui: &mut egui::Ui, context: &ViewContext, busy: bool) -> ViewRequest {
        AudioView::show(self, ui, context.task, busy)
    }

    fn on_segment(&mut self, segment: Segment) {
        AudioView::on_segment(self, segment);
    }

    fn on_finished(&mut self, output: Output) {
        match output.take::<Transcript>() {
            Ok(transcript) => AudioView::on_finished(self, transcript),
            Err(output) => {
                if let Ok(labels) = output.take::<AudioLabels>() {
                    self.labels = Some(labels);
                }
            }
        }
    }

    fn on_failed(&mut self, message: &str) {
        AudioView::on_failed(self, message);
    }
}
