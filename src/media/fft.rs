//! A mixed-radix FFT over `f64` complex pairs, shared by the audio front ends (Whisper's log-mel,
//! the Kaldi-style filter banks in [`super::audio_features`]) and the waveform display.

/// A mixed-radix decimation-in-time FFT for any length (fast for lengths with small factors,
/// such as Whisper's 400 = 2⁴·5²).
pub struct Fft {
    /// e^(−2πij/n) for j in 0..n.
    twiddles: Vec<(f64, f64)>,
}

impl Fft {
    /// Prepares an FFT of length `n`.
    pub fn new(n: usize) -> Fft {
        Fft {
            twiddles: (0..n)
                .map(|j| {
                    let angle = -std::f64::consts::TAU * j as f64 / n as f64;
                    (angle.cos(), angle.sin())
                })
                .collect(),
        }
    }

    /// The DFT of `input` (whose length must be the `n` given to [`Fft::new`]).
    pub fn run(&self, input: &[(f64, f64)]) -> Vec<(f64, f64)> {
        self.step(input.to_vec(), 1)
    }

    fn step(&self, x: Vec<(f64, f64)>, stride: usize) -> Vec<(f64, f64)> {
        let n = x.len();
        if n <= 1 {
            return x;
        }
        let p = (2..=n).find(|p| n.is_multiple_of(*p)).unwrap_or(n);
        let m = n / p;
        let subs: Vec<Vec<(f64, f64)>> = (0..p)
            .map(|r| self.step((0..m).map(|i| x[i * p + r]).collect(), stride * p))
            .collect();
        (0..n)
            .map(|k| {
                subs.iter()
                    .enumerate()
                    .fold((0.0, 0.0), |(ar, ai), (r, sub)| {
                        let (wr, wi) = self.twiddles[(r * k % n) * stride];
                        let (yr, yi) = sub[k % m];
                        (ar + wr * yr - wi * yi, ai + wr * yi + wi * yr)
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_matches_a_direct_dft() {
        for n in [1, 2, 5, 12, 400] {
            let x: Vec<(f64, f64)> = (0..n)
                .map(|i| ((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
                .collect();
            let fast = Fft::new(n).run(&x);
            for (k, &(fast_re, fast_im)) in fast.iter().enumerate() {
                let (mut re, mut im) = (0.0, 0.0);
                for (j, (xr, xi)) in x.iter().enumerate() {
                    let a = -std::f64::consts::TAU * (j * k) as f64 / n as f64;
                    re += xr * a.cos() - xi * a.sin();
                    im += xr * a.sin() + xi * a.cos();
                }
                assert!((fast_re - re).abs() < 1e-9 && (fast_im - im).abs() < 1e-9);
            }
        }
    }
}
