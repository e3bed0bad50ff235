//! Diffusion schedulers as diffusers computes them, read from a pipeline's
//! `scheduler/scheduler_config.json`: Euler discrete, Euler ancestral, DDIM (η = 0) and LCM,
//! with their timestep spacings (`linspace`, `leading`, `trailing`) and prediction types
//! (`epsilon`, `v_prediction`, `sample`). A config naming another scheduler (SD 1.5's PNDM,
//! DPM-Solver…) runs Euler discrete over the same noise schedule, and says so.

use candle_core::Tensor;
use serde_json::Value;

/// The schedulers implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// `EulerDiscreteScheduler`.
    Euler,
    /// `EulerAncestralDiscreteScheduler` (draws noise every step).
    EulerAncestral,
    /// `DDIMScheduler`, deterministic (η = 0).
    Ddim,
    /// `LCMScheduler` (latent consistency models; draws noise between steps).
    Lcm,
}

impl SchedulerKind {
    /// Every kind, in the order a picker lists them.
    pub const ALL: [SchedulerKind; 4] = [
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::Ddim,
        SchedulerKind::Lcm,
    ];

    /// The short name `--scheduler` takes.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler-ancestral",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Lcm => "lcm",
        }
    }

    /// diffusers' class name.
    pub fn class_name(self) -> &'static str {
        match self {
            SchedulerKind::Euler => "EulerDiscreteScheduler",
            SchedulerKind::EulerAncestral => "EulerAncestralDiscreteScheduler",
            SchedulerKind::Ddim => "DDIMScheduler",
            SchedulerKind::Lcm => "LCMScheduler",
        }
    }

    /// The kind with this short name or class name.
    pub fn parse(name: &str) -> Option<SchedulerKind> {
        let name = name.trim();
        SchedulerKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name) || k.class_name() == name)
            .or_else(|| {
                name.eq_ignore_ascii_case("euler-a")
                    .then_some(SchedulerKind::EulerAncestral)
            })
    }

    /// Whether a step draws fresh noise (Euler ancestral every step, LCM all but the last).
    fn draws_noise(self, step: usize, steps: usize) -> bool {
        match self {
            SchedulerKind::EulerAncestral => true,
            SchedulerKind::Lcm => step + 1 < steps,
            SchedulerKind::Euler | SchedulerKind::Ddim => false,
        }
    }
}

/// What the denoiser predicts (`prediction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// The noise.
    Epsilon,
    /// The velocity (SD 2.x at 768 px).
    Velocity,
    /// The clean sample.
    Sample,
}

/// How inference timesteps are spread over the training ones (`timestep_spacing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spacing {
    Linspace,
    Leading,
    Trailing,
}

/// A scheduler config: the noise schedule and the chosen scheduler's options.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The scheduler that runs.
    pub kind: SchedulerKind,
    /// What the model predicts.
    pub prediction: Prediction,
    /// Why the config's own scheduler isn't the one that runs, when it isn't.
    pub note: Option<String>,
    alphas_cumprod: Vec<f32>,
    spacing: Spacing,
    steps_offset: usize,
    final_alpha_cumprod: f32,
    original_inference_steps: usize,
    timestep_scaling: f64,
    clip_sample: Option<f64>,
}

impl SchedulerConfig {
    /// Reads scheduler_config.json; `choice` replaces its `_class_name` (as diffusers'
    /// `from_config` does when a user switches schedulers).
    pub fn from_json(
        config: &Value,
        choice: Option<SchedulerKind>,
    ) -> Result<SchedulerConfig, String> {
        let class = config
            .get("_class_name")
            .and_then(Value::as_str)
            .unwrap_or("EulerDiscreteScheduler");
        let (kind, note) = match choice.or_else(|| SchedulerKind::parse(class)) {
            Some(kind) => (kind, None),
            None => (
                SchedulerKind::Euler,
                Some(format!(
                    "{class} is not implemented; running Euler discrete over its noise schedule"
                )),
            ),
        };
        let number =
            |key: &str, default: f64| config.get(key).and_then(Value::as_f64).unwrap_or(default);
        let flag = |key: &str| config.get(key).and_then(Value::as_bool);
        let text = |key: &str| config.get(key).and_then(Value::as_str);
        for option in [
            "use_karras_sigmas",
            "use_exponential_sigmas",
            "use_beta_sigmas",
            "thresholding",
            "rescale_betas_zero_snr",
        ] {
            if flag(option) == Some(true) {
                return Err(format!("scheduler option {option} = true"));
            }
        }
        if text("interpolation_type").is_some_and(|t| t != "linear")
            || text("timestep_type").is_some_and(|t| t != "discrete")
            || text("final_sigmas_type").is_some_and(|t| t != "zero")
        {
            return Err("a scheduler with non-default sigma interpolation".into());
        }
        let train_steps = number("num_train_timesteps", 1000.0) as usize;
        if train_steps < 2 {
            return Err(format!("num_train_timesteps {train_steps}"));
        }
        let betas = match config.get("trained_betas").and_then(Value::as_array) {
            Some(betas) => betas
                .iter()
                .filter_map(Value::as_f64)
                .map(|b| b as f32)
                .collect(),
            None => {
                let (start, end) = (number("beta_start", 0.00085), number("beta_end", 0.012));
                match text("beta_schedule").unwrap_or("scaled_linear") {
                    "linear" => linspace(start as f32, end as f32, train_steps),
                    "scaled_linear" => {
                        linspace(start.sqrt() as f32, end.sqrt() as f32, train_steps)
                            .into_iter()
                            .map(|b| b * b)
                            .collect()
                    }
                    other => return Err(format!("beta_schedule {other:?}")),
                }
            }
        };
        let mut product = 1.0f32;
        let alphas_cumprod: Vec<f32> = betas
            .iter()
            .map(|beta| {
                product *= 1.0 - beta;
                product
            })
            .collect();
        let default_spacing = match kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => "linspace",
            SchedulerKind::Ddim | SchedulerKind::Lcm => "leading",
        };
        let spacing = match text("timestep_spacing").unwrap_or(default_spacing) {
            "linspace" => Spacing::Linspace,
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            other => return Err(format!("timestep_spacing {other:?}")),
        };
        let prediction = match text("prediction_type").unwrap_or("epsilon") {
            "epsilon" => Prediction::Epsilon,
            "v_prediction" => Prediction::Velocity,
            "sample" | "original_sample" => Prediction::Sample,
            other => return Err(format!("prediction_type {other:?}")),
        };
        let final_alpha_cumprod = if flag("set_alpha_to_one").unwrap_or(true) {
            1.0
        } else {
            alphas_cumprod[0]
        };
        Ok(SchedulerConfig {
            kind,
            prediction,
            note,
            spacing,
            steps_offset: number("steps_offset", 0.0) as usize,
            final_alpha_cumprod,
            original_inference_steps: number("original_inference_steps", 50.0) as usize,
            timestep_scaling: number("timestep_scaling", 10.0),
            // DDIM clips by default (a PNDM config switched to DDIM has no clip_sample key).
            clip_sample: match kind {
                SchedulerKind::Ddim => flag("clip_sample").unwrap_or(true),
                SchedulerKind::Lcm => flag("clip_sample").unwrap_or(false),
                SchedulerKind::Euler | SchedulerKind::EulerAncestral => false,
            }
            .then(|| number("clip_sample_range", 1.0)),
            alphas_cumprod,
        })
    }

    /// The schedule for `steps` inference steps.
    pub fn schedule(&self, steps: usize) -> Result<Schedule, String> {
        let train = self.alphas_cumprod.len();
        if steps == 0 || steps > train {
            return Err(format!("steps must be between 1 and {train}, not {steps}"));
        }
        let timesteps: Vec<f64> = match self.kind {
            SchedulerKind::Lcm => self.lcm_timesteps(steps)?,
            kind => {
                let ratio = (train / steps) as f64;
                let mut t: Vec<f64> = match self.spacing {
                    Spacing::Linspace => linspace(0.0, (train - 1) as f32, steps)
                        .into_iter()
                        .rev()
                        .map(f64::from)
                        .collect(),
                    Spacing::Leading => (0..steps)
                        .rev()
                        .map(|i| (i as f64 * ratio).round() + self.steps_offset as f64)
                        .collect(),
                    Spacing::Trailing => {
                        let stride = train as f64 / steps as f64;
                        (0..steps)
                            .map(|i| (train as f64 - i as f64 * stride).round_ties_even() - 1.0)
                            .collect()
                    }
                };
                // DDIM indexes its alphas with whole timesteps.
                if kind == SchedulerKind::Ddim {
                    t.iter_mut().for_each(|v| *v = v.round_ties_even());
                }
                t
            }
        };
        if let Some(bad) = timesteps.iter().find(|t| **t < 0.0 || **t >= train as f64) {
            return Err(format!(
                "timestep {bad} is outside the {train} training steps"
            ));
        }
        let sigmas = match self.kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let full: Vec<f32> = self
                    .alphas_cumprod
                    .iter()
                    .map(|a| ((1.0 - a) / a).sqrt())
                    .collect();
                let mut sigmas: Vec<f32> = timesteps
                    .iter()
                    .map(|&t| interpolate(&full, t) as f32)
                    .collect();
                sigmas.push(0.0);
                sigmas
            }
            SchedulerKind::Ddim | SchedulerKind::Lcm => Vec::new(),
        };
        Ok(Schedule {
            config: self.clone(),
            timesteps,
            sigmas,
        })
    }

    fn lcm_timesteps(&self, steps: usize) -> Result<Vec<f64>, String> {
        let original = self.original_inference_steps;
        let train = self.alphas_cumprod.len();
        if steps > original || original == 0 || original > train {
            return Err(format!(
                "LCM takes at most original_inference_steps = {original} steps, not {steps}"
            ));
        }
        let k = train / original;
        let origin: Vec<usize> = (1..=original).rev().map(|i| i * k - 1).collect();
        Ok((0..steps)
            .map(|i| origin[(i * origin.len()) / steps] as f64)
            .collect())
    }
}

/// One run's timesteps, and the step rule.
#[derive(Debug, Clone)]
pub struct Schedule {
    config: SchedulerConfig,
    timesteps: Vec<f64>,
    sigmas: Vec<f32>,
}

/// One step's results.
pub struct Step {
    /// The latents for the next step (the last step's are the result).
    pub prev: Tensor,
    /// The model's current estimate of the clean latents (for previews).
    pub denoised: Tensor,
}

impl Schedule {
    /// The timesteps the denoiser is called at, first to last.
    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// The scale of the initial noise.
    pub fn init_noise_sigma(&self) -> f64 {
        match self.config.kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let max = self.sigmas.iter().copied().fold(0.0f32, f32::max) as f64;
                match self.config.spacing {
                    Spacing::Linspace | Spacing::Trailing => max,
                    Spacing::Leading => (max * max + 1.0).sqrt(),
                }
            }
            SchedulerKind::Ddim | SchedulerKind::Lcm => 1.0,
        }
    }

    /// The denoiser's input at step `i` (Euler divides by √(σ² + 1)).
    pub fn scale_input(&self, i: usize, latents: &Tensor) -> candle_core::Result<Tensor> {
        match self.config.kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let sigma = self.sigmas[i] as f64;
                latents / (sigma * sigma + 1.0).sqrt()
            }
            SchedulerKind::Ddim | SchedulerKind::Lcm => Ok(latents.clone()),
        }
    }

    /// Whether step `i` needs fresh standard-normal noise the shape of the latents.
    pub fn needs_noise(&self, i: usize) -> bool {
        self.config.kind.draws_noise(i, self.timesteps.len())
    }

    /// Step `i`: from the denoiser's output and the current latents to the next latents.
    /// `noise` must be given when [`Schedule::needs_noise`] says so.
    pub fn step(
        &self,
        i: usize,
        output: &Tensor,
        sample: &Tensor,
        noise: Option<&Tensor>,
    ) -> candle_core::Result<Step> {
        let noise =
            || noise.ok_or_else(|| candle_core::Error::Msg(format!("step {i} needs noise")));
        match self.config.kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let sigma = self.sigmas[i] as f64;
                let next = self.sigmas[i + 1] as f64;
                let denoised = match self.config.prediction {
                    Prediction::Epsilon => (sample - (output * sigma)?)?,
                    Prediction::Velocity => {
                        ((output * (-sigma / (sigma * sigma + 1.0).sqrt()))?
                            + (sample / (sigma * sigma + 1.0))?)?
                    }
                    Prediction::Sample => output.clone(),
                };
                let derivative = ((sample - &denoised)? / sigma)?;
                let prev = if self.config.kind == SchedulerKind::Euler {
                    (sample + (derivative * (next - sigma))?)?
                } else {
                    let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).sqrt();
                    let down = (next * next - up * up).max(0.0).sqrt();
                    ((sample + (derivative * (down - sigma))?)? + (noise()? * up)?)?
                };
                Ok(Step { prev, denoised })
            }
            SchedulerKind::Ddim => {
                let t = self.timesteps[i] as usize;
                let stride = self.config.alphas_cumprod.len() / self.timesteps.len();
                let alpha = self.config.alphas_cumprod[t] as f64;
                let alpha_prev = t
                    .checked_sub(stride)
                    .map_or(self.config.final_alpha_cumprod, |p| {
                        self.config.alphas_cumprod[p]
                    }) as f64;
                let (denoised, epsilon) = self.clean_and_noise(output, sample, alpha)?;
                let prev =
                    ((&denoised * alpha_prev.sqrt())? + (epsilon * (1.0 - alpha_prev).sqrt())?)?;
                Ok(Step { prev, denoised })
            }
            SchedulerKind::Lcm => {
                let t = self.timesteps[i];
                let alpha = self.config.alphas_cumprod[t as usize] as f64;
                let last = i + 1 == self.timesteps.len();
                let prev_t = if last { t } else { self.timesteps[i + 1] };
                let alpha_prev = self.config.alphas_cumprod[prev_t as usize] as f64;
                let scaled = t * self.config.timestep_scaling;
                let skip = 0.25 / (scaled * scaled + 0.25);
                let out = scaled / (scaled * scaled + 0.25).sqrt();
                let (x0, _) = self.clean_and_noise(output, sample, alpha)?;
                let denoised = ((x0 * out)? + (sample * skip)?)?;
                let prev = if last {
                    denoised.clone()
                } else {
                    ((&denoised * alpha_prev.sqrt())? + (noise()? * (1.0 - alpha_prev).sqrt())?)?
                };
                Ok(Step { prev, denoised })
            }
        }
    }

    /// The clean-sample estimate (clipped when the config says) and the noise estimate at a
    /// timestep with cumulative alpha `alpha`.
    fn clean_and_noise(
        &self,
        output: &Tensor,
        sample: &Tensor,
        alpha: f64,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let beta = 1.0 - alpha;
        let (x0, epsilon) = match self.config.prediction {
            Prediction::Epsilon => (
                ((sample - (output * beta.sqrt())?)? / alpha.sqrt())?,
                output.clone(),
            ),
            Prediction::Velocity => (
                ((sample * alpha.sqrt())? - (output * beta.sqrt())?)?,
                ((output * alpha.sqrt())? + (sample * beta.sqrt())?)?,
            ),
            Prediction::Sample => (
                output.clone(),
                ((sample - (output * alpha.sqrt())?)? / beta.sqrt())?,
            ),
        };
        let x0 = match self.config.clip_sample {
            Some(range) => x0.clamp(-range, range)?,
            None => x0,
        };
        Ok((x0, epsilon))
    }
}

/// `n` evenly spaced f32 values from `start` to `end` (torch's `linspace`).
fn linspace(start: f32, end: f32, n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f32;
    (0..n)
        .map(|i| {
            if i < n / 2 {
                start + step * i as f32
            } else {
                end - step * (n - 1 - i) as f32
            }
        })
        .collect()
}

/// `values` read at fractional index `x` by linear interpolation (numpy's `interp` over
/// `0..len`).
fn interpolate(values: &[f32], x: f64) -> f64 {
    let low = (x.floor().max(0.0) as usize).min(values.len() - 1);
    let high = (low + 1).min(values.len() - 1);
    let fraction = x - low as f64;
    values[low] as f64 + (values[high] as f64 - values[low] as f64) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sd15() -> Value {
        json!({"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "steps_offset": 1,
            "set_alpha_to_one": false, "skip_prk_steps": true})
    }

    #[test]
    fn timesteps_follow_each_spacing_as_diffusers_does() {
        let euler = SchedulerConfig::from_json(&sd15(), Some(SchedulerKind::Euler)).unwrap();
        // PNDM's saved config has no spacing: Euler's own default (linspace).
        assert_eq!(euler.schedule(3).unwrap().timesteps(), [999.0, 499.5, 0.0]);
        let mut leading = sd15();
        leading["timestep_spacing"] = json!("leading");
        let ddim = SchedulerConfig::from_json(&leading, Some(SchedulerKind::Ddim)).unwrap();
        assert_eq!(ddim.schedule(3).unwrap().timesteps(), [667.0, 334.0, 1.0]);
        leading["timestep_spacing"] = json!("trailing");
        let turbo = SchedulerConfig::from_json(&leading, Some(SchedulerKind::Euler)).unwrap();
        assert_eq!(turbo.schedule(1).unwrap().timesteps(), [999.0]);
        assert_eq!(
            turbo.schedule(3).unwrap().timesteps(),
            [999.0, 666.0, 332.0]
        );
        let lcm = SchedulerConfig::from_json(&sd15(), Some(SchedulerKind::Lcm)).unwrap();
        assert_eq!(
            lcm.schedule(4).unwrap().timesteps(),
            [999.0, 759.0, 499.0, 259.0]
        );
        assert!(lcm.schedule(51).unwrap_err().contains("at most"));
    }

    #[test]
    fn an_unknown_class_runs_euler_and_says_so_and_bad_options_are_refused() {
        let config = SchedulerConfig::from_json(&sd15(), None).unwrap();
        assert_eq!(config.kind, SchedulerKind::Euler);
        assert!(config.note.unwrap().contains("PNDMScheduler"));
        let mut karras = sd15();
        karras["use_karras_sigmas"] = json!(true);
        assert!(
            SchedulerConfig::from_json(&karras, None)
                .unwrap_err()
                .contains("karras")
        );
        assert_eq!(
            SchedulerKind::parse("euler-a"),
            Some(SchedulerKind::EulerAncestral)
        );
        assert_eq!(
            SchedulerKind::parse("DDIMScheduler"),
            Some(SchedulerKind::Ddim)
        );
        assert_eq!(SchedulerKind::parse("pndm"), None);
    }

    #[test]
    fn init_sigma_and_noise_draws() {
        let euler = SchedulerConfig::from_json(&sd15(), Some(SchedulerKind::Euler)).unwrap();
        let schedule = euler.schedule(10).unwrap();
        // SD 1.5's largest sigma is ~14.61.
        assert!((schedule.init_noise_sigma() - 14.6146).abs() < 1e-3);
        assert!(!schedule.needs_noise(0));
        let lcm = SchedulerConfig::from_json(&sd15(), Some(SchedulerKind::Lcm)).unwrap();
        let schedule = lcm.schedule(2).unwrap();
        assert!(schedule.needs_noise(0) && !schedule.needs_noise(1));
    }
}
