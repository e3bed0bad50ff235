//! Text-to-image: a picture from a prompt with a Stable Diffusion pipeline
//! ([`crate::infer::models::stable_diffusion`]), as diffusers' `StableDiffusionPipeline` makes
//! it: the prompt (and, with guidance above 1, the negative prompt) encoded once, seeded
//! standard-normal latents scaled by the scheduler's initial sigma, then per step the UNet on
//! both conditionings, classifier-free guidance `uncond + g·(cond − uncond)`, and the
//! scheduler's step; the VAE decodes the last latents. Each step sends
//! [`Event::Progress`] with a preview of the current clean-latent estimate (a linear map from
//! SD's four latent channels to RGB), and Stop ends the run between steps.
//!
//! `hubble run --task text-to-image --input PROMPT --output out.png --steps N --seed S`; the PNG
//! carries the prompt and settings in its text chunks ([`crate::media::png_text`]).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use image::RgbImage;
use serde::Serialize;

use crate::infer::InferError;
use crate::infer::facts::ModelFacts;
use crate::infer::models::diffusion_scheduler::{Schedule, SchedulerKind};
use crate::infer::models::sd_unet::AddedConditions;
use crate::infer::models::stable_diffusion::{self, StableDiffusion};
use crate::infer::pipeline::{Event, HumanOutput, Pipeline, Request, RunContext, Task, erase};
use crate::infer::plan::Plan;
use crate::infer::run_input::RunInput;
use crate::infer::task_module::{Evidence, LoadFn, TaskModule, not_supported};
use crate::infer::tasks::common::noise::{NoiseSource, SeededNoise};

/// `text-to-image`.
pub const TEXT_TO_IMAGE: Task = Task::new("text-to-image");

/// Steps when none are asked for (diffusers' default is 50; 25 Euler steps look the same).
pub const DEFAULT_STEPS: usize = 25;

/// Guidance when none is asked for (diffusers' default).
pub const DEFAULT_GUIDANCE: f64 = 7.5;

/// The largest side accepted, in pixels.
pub const MAX_SIDE: usize = 2048;

/// One picture to make.
#[derive(Debug, Clone)]
pub struct TextToImageRequest {
    /// What to draw.
    pub prompt: String,
    /// What to steer away from (used when guidance > 1).
    pub negative_prompt: String,
    /// Denoising steps.
    pub steps: usize,
    /// Classifier-free guidance scale; 1 or less turns guidance off (Turbo models: 0).
    pub guidance: f64,
    /// Seed of the initial noise (and of the ancestral/LCM steps' noise).
    pub seed: u64,
    /// Width in pixels; `None`: the model's own size.
    pub width: Option<usize>,
    /// Height in pixels; `None`: the model's own size.
    pub height: Option<usize>,
    /// Another scheduler than the pipeline's own.
    pub scheduler: Option<SchedulerKind>,
    /// Where to save the PNG (the command line); the app saves from its view.
    pub output: Option<PathBuf>,
}

impl TextToImageRequest {
    /// A request with the defaults for everything but the prompt.
    pub fn new(prompt: impl Into<String>) -> TextToImageRequest {
        TextToImageRequest {
            prompt: prompt.into(),
            negative_prompt: String::new(),
            steps: DEFAULT_STEPS,
            guidance: DEFAULT_GUIDANCE,
            seed: 0,
            width: None,
            height: None,
            scheduler: None,
            output: None,
        }
    }
}

/// A finished picture and how it was made.
#[derive(Debug, Clone, Serialize)]
pub struct TextToImageOutput {
    /// The prompt.
    pub prompt: String,
    /// The negative prompt.
    pub negative_prompt: String,
    /// Steps run.
    pub steps: usize,
    /// Guidance scale.
    pub guidance: f64,
    /// Seed.
    pub seed: u64,
    /// The scheduler that ran (short name).
    pub scheduler: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Seconds for the whole picture (text encoding, steps, decoding).
    pub seconds: f64,
    /// Seconds per denoising step.
    pub seconds_per_step: f64,
    /// The model (repository id, or the folder's name).
    pub model: String,
    /// Where the PNG was saved, when a path was given.
    pub saved_to: Option<PathBuf>,
    /// The picture.
    #[serde(skip)]
    pub image: Arc<RgbImage>,
}

impl TextToImageOutput {
    /// The settings as PNG text chunks: A1111's `parameters` line (which image tools read),
    /// then each setting under its own key.
    pub fn png_text(&self) -> Vec<(String, String)> {
        let parameters = format!(
            "{}\nNegative prompt: {}\nSteps: {}, Sampler: {}, CFG scale: {}, Seed: {}, Size: {}x{}, Model: {}",
            self.prompt,
            self.negative_prompt,
            self.steps,
            self.scheduler,
            self.guidance,
            self.seed,
            self.width,
            self.height,
            self.model
        );
        [
            ("parameters", parameters),
            ("prompt", self.prompt.clone()),
            ("negative_prompt", self.negative_prompt.clone()),
            ("steps", self.steps.to_string()),
            ("guidance", self.guidance.to_string()),
            ("seed", self.seed.to_string()),
            ("scheduler", self.scheduler.clone()),
            ("model", self.model.clone()),
            ("Software", format!("Hubble {}", env!("CARGO_PKG_VERSION"))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The text conditioning of one request: unconditional and conditional rows stacked under
/// guidance, the prompt's alone otherwise.
pub struct Conditioning {
    /// `(rows, length, width)`.
    states: Tensor,
    /// SDXL: `(rows, projection)`.
    pooled: Option<Tensor>,
    /// SDXL: `(rows, 6)`.
    time_ids: Tensor,
    guidance: Option<f64>,
}

/// A loaded text-to-image pipeline.
pub struct ImageGenerator {
    sd: StableDiffusion,
    model: String,
}

impl ImageGenerator {
    /// Loads the pipeline in `dir`.
    pub fn load_dir(dir: &Path, device: &Device) -> Result<ImageGenerator, InferError> {
        Ok(ImageGenerator {
            sd: StableDiffusion::load(dir, device)?,
            model: model_name(dir),
        })
    }

    /// The picture's size in pixels (the model's own when not asked), checked.
    pub fn size(&self, request: &TextToImageRequest) -> Result<(usize, usize), InferError> {
        let multiple = self.sd.side_multiple;
        let check = |name: &str, side: Option<usize>| {
            let side = side.unwrap_or(self.sd.default_side);
            if side == 0 || !side.is_multiple_of(multiple) || side > MAX_SIDE {
                return Err(InferError::InvalidInput(format!(
                    "{name} must be a multiple of {multiple} pixels up to {MAX_SIDE}, not {side}"
                )));
            }
            Ok(side)
        };
        Ok((
            check("width", request.width)?,
            check("height", request.height)?,
        ))
    }

    /// The schedule this request runs.
    pub fn schedule(&self, request: &TextToImageRequest) -> Result<Schedule, InferError> {
        self.sd
            .scheduler(request.scheduler)?
            .schedule(request.steps)
            .map_err(InferError::InvalidInput)
    }

    /// Encodes the prompt (and the negative prompt, under guidance; SDXL conditions an empty
    /// one on zeros), with SDXL's size ids for the request's size.
    pub fn conditioning(&self, request: &TextToImageRequest) -> Result<Conditioning, InferError> {
        let prompt = self.sd.encode_text(&request.prompt)?;
        let (height, width) = {
            let (w, h) = self.size(request)?;
            (h as f32, w as f32)
        };
        // Original size, crop corner, target size (diffusers' `add_time_ids`).
        let ids = [height, width, 0.0, 0.0, height, width];
        let (guidance, rows) = if request.guidance > 1.0 {
            let negative =
                if self.sd.zeros_for_empty_prompt && request.negative_prompt.trim().is_empty() {
                    prompt.zeros_like()?
                } else {
                    self.sd.encode_text(&request.negative_prompt)?
                };
            (Some(request.guidance), vec![negative, prompt])
        } else {
            (None, vec![prompt])
        };
        let states = Tensor::cat(&rows.iter().map(|r| &r.states).collect::<Vec<_>>(), 0)?;
        let pooled = rows
            .iter()
            .map(|r| r.pooled.clone())
            .collect::<Option<Vec<_>>>()
            .map(|p| Tensor::cat(&p, 0))
            .transpose()?;
        let time_ids =
            Tensor::new(ids.repeat(rows.len()), self.sd.device())?.reshape((rows.len(), 6))?;
        Ok(Conditioning {
            states,
            pooled,
            time_ids,
            guidance,
        })
    }

    /// The UNet's raw output at step `i` for `latents` `(1, c, h, w)` (both halves under
    /// guidance) and the guided prediction the scheduler steps with.
    pub fn prediction(
        &self,
        schedule: &Schedule,
        i: usize,
        latents: &Tensor,
        conditioning: &Conditioning,
    ) -> Result<(Tensor, Tensor), InferError> {
        let input = schedule.scale_input(i, latents)?;
        let timestep = schedule.timesteps()[i];
        let added = conditioning.pooled.as_ref().map(|pooled| AddedConditions {
            text_embeds: pooled,
            time_ids: &conditioning.time_ids,
        });
        match conditioning.guidance {
            None => {
                let raw = self
                    .sd
                    .predict(&input, timestep, &conditioning.states, added)?;
                Ok((raw.clone(), raw))
            }
            Some(scale) => {
                let doubled = Tensor::cat(&[&input, &input], 0)?;
                let raw = self
                    .sd
                    .predict(&doubled, timestep, &conditioning.states, added)?;
                let (uncond, cond) = (raw.narrow(0, 0, 1)?, raw.narrow(0, 1, 1)?);
                let guided = (&uncond + ((cond - &uncond)? * scale)?)?;
                Ok((raw, guided))
            }
        }
    }

    /// The picture's pixels `(3, H, W)` in [0, 1], from initial noise and step noise drawn from
    /// `noise`; previews and progress go to `ctx`.
    pub fn generate(
        &self,
        request: &TextToImageRequest,
        noise: &mut dyn NoiseSource,
        ctx: &RunContext,
    ) -> Result<Tensor, InferError> {
        if request.prompt.trim().is_empty() {
            return Err(InferError::InvalidInput(
                "the prompt is empty: say what to draw".into(),
            ));
        }
        let (width, height) = self.size(request)?;
        let schedule = self.schedule(request)?;
        let conditioning = self.conditioning(request)?;
        let device = self.sd.device();
        let factor = self.sd.vae_factor;
        let shape = [1, self.sd.latent_channels, height / factor, width / factor];
        let mut latents = (noise.draw(&shape, device)? * schedule.init_noise_sigma())?;
        let steps = schedule.timesteps().len();
        for i in 0..steps {
            if ctx.is_cancelled() {
                return Err(InferError::Cancelled);
            }
            let (_, guided) = self.prediction(&schedule, i, &latents, &conditioning)?;
            let step_noise = if schedule.needs_noise(i) {
                Some(noise.draw(&shape, device)?)
            } else {
                None
            };
            let step = schedule.step(i, &guided, &latents, step_noise.as_ref())?;
            latents = step.prev;
            ctx.emit(Event::Progress {
                done: i + 1,
                total: steps,
                preview: latent_preview(&step.denoised).map(Arc::new),
            });
        }
        if ctx.is_cancelled() {
            return Err(InferError::Cancelled);
        }
        ctx.emit(Event::Status("decoding the image".into()));
        self.sd.decode(&latents, &|| ctx.is_cancelled())
    }

    /// Makes the picture, saving it when the request names a file.
    pub fn run_request(
        &self,
        request: &TextToImageRequest,
        ctx: &RunContext,
    ) -> Result<TextToImageOutput, InferError> {
        let start = Instant::now();
        let (width, height) = self.size(request)?;
        let scheduler = self.sd.scheduler(request.scheduler)?;
        if let Some(note) = &scheduler.note {
            ctx.emit(Event::Status(note.clone()));
        }
        let pixels = self.generate(request, &mut SeededNoise::new(request.seed), ctx)?;
        let image = Arc::new(to_rgb(&pixels)?);
        let seconds = start.elapsed().as_secs_f64();
        let mut output = TextToImageOutput {
            prompt: request.prompt.clone(),
            negative_prompt: request.negative_prompt.clone(),
            steps: request.steps,
            guidance: request.guidance,
            seed: request.seed,
            scheduler: scheduler.kind.name().to_string(),
            width,
            height,
            seconds,
            seconds_per_step: seconds / request.steps.max(1) as f64,
            model: self.model.clone(),
            saved_to: None,
            image,
        };
        if let Some(path) = &request.output {
            crate::media::png_text::save(path, &output.image, &output.png_text())
                .map_err(|e| InferError::file(path, e))?;
            output.saved_to = Some(path.clone());
        }
        Ok(output)
    }
}

/// The repository name from a cache snapshot path (`models--org--name/snapshots/<sha>`), else
/// the folder's name.
fn model_name(dir: &Path) -> String {
    dir.ancestors()
        .filter_map(|p| p.file_name()?.to_str())
        .find_map(|name| crate::cache::model_repo_of_folder(name).map(|repo| repo.to_string()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// `(3, H, W)` floats in [0, 1] to 8-bit RGB (diffusers' `(x · 255).round()`).
pub fn to_rgb(pixels: &Tensor) -> Result<RgbImage, InferError> {
    let (channels, height, width) = pixels.dims3()?;
    if channels != 3 {
        return Err(InferError::Model(format!(
            "the VAE made {channels} channels, not 3"
        )));
    }
    let interleaved: Vec<f32> = pixels.permute((1, 2, 0))?.flatten_all()?.to_vec1()?;
    let bytes = interleaved
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    RgbImage::from_raw(width as u32, height as u32, bytes)
        .ok_or_else(|| InferError::Model("the image has the wrong size".into()))
}

/// How SD 1.x/2.x latent channels map to RGB, approximately (a least-squares fit of decoded
/// colours on latents, widely used for step previews), with the offset that centres it.
const LATENT_RGB: [[f32; 3]; 4] = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
];

/// A latent-sized RGB picture of four-channel latents `(1, 4, h, w)`; `None` for others.
pub fn latent_preview(latents: &Tensor) -> Option<RgbImage> {
    let (_, channels, height, width) = latents.dims4().ok()?;
    if channels != 4 {
        return None;
    }
    let values: Vec<f32> = latents.flatten_all().ok()?.to_vec1().ok()?;
    let plane = height * width;
    let mut image = RgbImage::new(width as u32, height as u32);
    for (index, pixel) in image.pixels_mut().enumerate() {
        for (rgb, value) in pixel.0.iter_mut().enumerate() {
            let mixed: f32 = (0..4)
                .map(|c| values[c * plane + index] * LATENT_RGB[c][rgb])
                .sum();
            *value = ((mixed + 1.0) * 127.5).clamp(0.0, 255.0) as u8;
        }
    }
    Some(image)
}

impl Pipeline for ImageGenerator {
    type Input = TextToImageRequest;
    type Output = TextToImageOutput;

    fn load(
        dir: &Path,
        plan: &Plan,
        device: &Device,
        ctx: &RunContext,
    ) -> Result<ImageGenerator, InferError> {
        plan.loader::<DiffusersPipeline>()?;
        ctx.emit(Event::Status(
            "loading the text encoder, UNet and VAE".into(),
        ));
        ImageGenerator::load_dir(dir, device)
    }

    fn run(
        &mut self,
        input: TextToImageRequest,
        ctx: &RunContext,
    ) -> Result<TextToImageOutput, InferError> {
        self.run_request(&input, ctx)
    }

    fn describe(&self) -> String {
        self.sd.describe()
    }
}

/// The plan's loader: a Stable Diffusion pipeline folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffusersPipeline;

/// The text-to-image task file, as the registry lists it.
pub struct TextToImageTask;

/// This task in the registry's list.
pub static MODULE: TextToImageTask = TextToImageTask;

impl TaskModule for TextToImageTask {
    fn tasks(&self) -> &'static [Task] {
        &[TEXT_TO_IMAGE]
    }

    fn aliases(&self) -> &'static [(&'static str, Task)] {
        &[
            ("image-generation", TEXT_TO_IMAGE),
            ("stable-diffusion", TEXT_TO_IMAGE),
        ]
    }

    fn guess(&self, facts: &ModelFacts) -> Option<(Evidence, Task)> {
        facts
            .has("model_index.json")
            .then_some((Evidence::Files, TEXT_TO_IMAGE))
    }

    fn plan(&self, facts: &ModelFacts, task: Task) -> Result<Plan, InferError> {
        if !facts.has("model_index.json") {
            return Err(not_supported(
                format!(
                    "{} (no diffusers model_index.json)",
                    facts.architecture_name()
                ),
                task,
            ));
        }
        if facts.has("transformer/config.json") {
            return Err(not_supported(
                "a diffusers pipeline with a transformer denoiser (SD3, Flux)",
                task,
            ));
        }
        if let Some(missing) = stable_diffusion::CONFIG_FILES
            .iter()
            .find(|file| !facts.has(file))
        {
            return Err(not_supported(
                format!("a diffusers pipeline without {missing}"),
                task,
            ));
        }
        Ok(Plan::new(task, DiffusersPipeline))
    }

    fn loader(&self) -> LoadFn {
        erase::<ImageGenerator>
    }

    fn cli_args(&self) -> Vec<clap::Arg> {
        let number = |id: &'static str, name: &'static str, help: &'static str| {
            clap::Arg::new(id).long(name).value_name("N").help(help)
        };
        vec![
            clap::Arg::new("negative_prompt")
                .long("negative-prompt")
                .value_name("TEXT")
                .help("Text-to-image: what to steer away from (used when --guidance > 1)"),
            number(
                "steps",
                "steps",
                "Text-to-image: denoising steps (default 25; Turbo models: 1–4)",
            )
            .value_parser(clap::value_parser!(usize)),
            clap::Arg::new("guidance")
                .long("guidance")
                .value_name("SCALE")
                .value_parser(clap::value_parser!(f64))
                .help("Text-to-image: classifier-free guidance (default 7.5; 0 for Turbo models)"),
            number(
                "width",
                "width",
                "Text-to-image: width in pixels (default: the model's)",
            )
            .value_parser(clap::value_parser!(usize)),
            number(
                "height",
                "height",
                "Text-to-image: height in pixels (default: the model's)",
            )
            .value_parser(clap::value_parser!(usize)),
            clap::Arg::new("scheduler")
                .long("scheduler")
                .value_name("NAME")
                .help(
                    "Text-to-image: euler, euler-ancestral, ddim or lcm instead of the model's own",
                ),
            clap::Arg::new("output")
                .long("output")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help(
                    "Text-to-image and text-to-speech: save the picture (PNG, prompt and settings \
                     in its text chunks) or the speech (WAV) here",
                ),
        ]
    }

    fn cli_request(&self, task: Task, input: &RunInput) -> Result<Request, InferError> {
        let scheduler = match input.string("scheduler") {
            Some(name) => Some(SchedulerKind::parse(&name).ok_or_else(|| {
                InferError::InvalidInput(format!(
                    "unknown scheduler {name:?}: pass euler, euler-ancestral, ddim or lcm"
                ))
            })?),
            None => None,
        };
        let output = input.value::<PathBuf>("output").ok_or_else(|| {
            InferError::InvalidInput(format!("{task} writes a picture: pass --output FILE.png"))
        })?;
        Ok(Request::new(TextToImageRequest {
            prompt: input.text()?,
            negative_prompt: input.string("negative_prompt").unwrap_or_default(),
            steps: input.value::<usize>("steps").unwrap_or(DEFAULT_STEPS),
            guidance: input.value::<f64>("guidance").unwrap_or(DEFAULT_GUIDANCE),
            seed: input.value::<u64>("seed").unwrap_or_default(),
            width: input.value::<usize>("width"),
            height: input.value::<usize>("height"),
            scheduler,
            output: Some(output),
        }))
    }
}

impl HumanOutput for TextToImageOutput {
    /// The saved file on stdout; the settings and timing on the log.
    fn write_human(&self, out: &mut dyn Write, log: &mut dyn Write) -> io::Result<()> {
        if let Some(path) = &self.saved_to {
            writeln!(out, "{}", path.display())?;
        }
        writeln!(
            log,
            "[{} × {} px, {} {} steps, guidance {}, seed {}, {:.1} s ({:.2} s/step)]",
            self.width,
            self.height,
            self.steps,
            self.scheduler,
            self.guidance,
            self.seed,
            self.seconds,
            self.seconds_per_step
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_come_from_the_cache_path() {
        let dir = Path::new("/c/hub/models--stabilityai--sd-turbo/snapshots/abc");
        assert_eq!(model_name(dir), "stabilityai/sd-turbo");
        assert_eq!(model_name(Path::new("/tmp/my-model")), "my-model");
    }

    #[test]
    fn pixels_round_as_diffusers_and_previews_need_four_channels() {
        let pixels = Tensor::new(
            &[[[0.0f32, 0.5]], [[1.0, 0.2]], [[0.999, 1.5]]],
            &Device::Cpu,
        )
        .unwrap();
        let image = to_rgb(&pixels).unwrap();
        assert_eq!(image.get_pixel(0, 0).0, [0, 255, 255]);
        assert_eq!(image.get_pixel(1, 0).0, [128, 51, 255]);
        let four = Tensor::zeros((1, 4, 2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let preview = latent_preview(&four).unwrap();
        assert_eq!((preview.width(), preview.height()), (3, 2));
        assert_eq!(preview.get_pixel(0, 0).0, [127, 127, 127]);
        let three = Tensor::zeros((1, 3, 2, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(latent_preview(&three).is_none());
    }
}
