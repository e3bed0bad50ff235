//! Seeded standard-normal noise for the generating tasks that start from noise (diffusion
//! latents, VITS's priors), behind a trait so parity tests can inject the noise PyTorch drew.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::infer::InferError;

/// Where a task's noise comes from.
pub trait NoiseSource {
    /// Standard-normal noise of `shape`.
    fn draw(&mut self, shape: &[usize], device: &Device) -> Result<Tensor, InferError>;
}

/// Noise from a seeded generator (the same seed gives the same picture on every machine).
pub struct SeededNoise(StdRng);

impl SeededNoise {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SeededNoise {
        SeededNoise(StdRng::seed_from_u64(seed))
    }
}

impl NoiseSource for SeededNoise {
    fn draw(&mut self, shape: &[usize], device: &Device) -> Result<Tensor, InferError> {
        let count = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| StandardNormal.sample(&mut self.0))
            .collect();
        Ok(Tensor::from_vec(values, shape, device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_noise_repeats_and_is_standard_normal() {
        let shape = [1, 4, 16, 16];
        let a = SeededNoise::new(7).draw(&shape, &Device::Cpu).unwrap();
        let b = SeededNoise::new(7).draw(&shape, &Device::Cpu).unwrap();
        let c = SeededNoise::new(8).draw(&shape, &Device::Cpu).unwrap();
        let (a, b, c): (Vec<f32>, Vec<f32>, Vec<f32>) = (
            a.flatten_all().unwrap().to_vec1().unwrap(),
            b.flatten_all().unwrap().to_vec1().unwrap(),
            c.flatten_all().unwrap().to_vec1().unwrap(),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.15, "{mean} {var}");
    }
}
