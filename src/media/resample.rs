//! Pillow's resize for 8-bit RGB images, reproduced exactly: per-axis filter weights computed in
//! f64, normalised, turned into 22-bit fixed point, a horizontal pass then a vertical pass, each
//! rounding back to u8. transformers' PIL image processors resize through Pillow, so this is
//! what makes the preprocessed tensor equal theirs value for value.

use image::RgbImage;

/// Fixed-point precision of Pillow's 8-bit resampling (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// Pillow's resampling filters (`PIL.Image.Resampling`, numbered as in preprocessor_config.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// 1: Lanczos (a = 3).
    Lanczos,
    /// 2: bilinear (triangle).
    Bilinear,
    /// 3: bicubic (a = -0.5).
    Bicubic,
    /// 4: box.
    Box,
    /// 5: Hamming.
    Hamming,
}

impl Filter {
    /// The filter for a `resample` number; `0` (nearest) and unknown numbers are `None`.
    pub fn from_pil(number: u64) -> Option<Filter> {
        match number {
            1 => Some(Filter::Lanczos),
            2 => Some(Filter::Bilinear),
            3 => Some(Filter::Bicubic),
            4 => Some(Filter::Box),
            5 => Some(Filter::Hamming),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => (1.0 - x.abs()).max(0.0),
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let px = x * std::f64::consts::PI;
                    px.sin() / px * (0.54 + 0.46 * px.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = x * std::f64::consts::PI;
        px.sin() / px
    }
}

/// Per output pixel: the first input index and its fixed-point weights.
struct Coeffs {
    first: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

fn coefficients(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter.support() * filter_scale;
    let mut first = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64)
            .min(in_size as i64)
            .max(xmin as i64) as usize;
        let raw: Vec<f64> = (xmin..xmax)
            .map(|x| filter.weight((x as f64 - center + 0.5) / filter_scale))
            .collect();
        let total: f64 = raw.iter().sum();
        let fixed = raw
            .iter()
            .map(|w| {
                let w = if total != 0.0 { w / total } else { *w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                if w < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                }
            })
            .collect();
        first.push(xmin);
        weights.push(fixed);
    }
    Coeffs { first, weights }
}

fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes `image` to `width` × `height` exactly as Pillow's `Image.resize(..., filter)` does
/// for an RGB image. A zero target size gives an empty image.
pub fn resize(image: &RgbImage, width: u32, height: u32, filter: Filter) -> RgbImage {
    let (in_w, in_h) = (image.width() as usize, image.height() as usize);
    let (out_w, out_h) = (width as usize, height as usize);
    if out_w == 0 || out_h == 0 || in_w == 0 || in_h == 0 {
        return RgbImage::new(width, height);
    }
    if (out_w, out_h) == (in_w, in_h) {
        return image.clone();
    }
    let horizontal = coefficients(in_w, out_w, filter);
    let vertical = coefficients(in_h, out_h, filter);
    let src = image.as_raw();
    // The horizontal pass only covers the rows the vertical pass reads, as Pillow does.
    let (row_first, row_last) = if out_h == in_h {
        (0, in_h)
    } else {
        let last = vertical.first[out_h - 1] + vertical.weights[out_h - 1].len();
        (vertical.first[0], last)
    };
    let rows = row_last - row_first;
    let temp: Vec<u8> = if out_w == in_w {
        src[row_first * in_w * 3..row_last * in_w * 3].to_vec()
    } else {
        let mut temp = vec![0u8; rows * out_w * 3];
        for y in 0..rows {
            let row = &src[(y + row_first) * in_w * 3..][..in_w * 3];
            for (x, (first, weights)) in
                horizontal.first.iter().zip(&horizontal.weights).enumerate()
            {
                for c in 0..3 {
                    let mut sum: i64 = 1 << (PRECISION_BITS - 1);
                    for (k, w) in weights.iter().enumerate() {
                        sum += i64::from(row[(first + k) * 3 + c]) * i64::from(*w);
                    }
                    temp[(y * out_w + x) * 3 + c] = clip8(sum);
                }
            }
        }
        temp
    };
    if out_h == in_h {
        return RgbImage::from_raw(width, height, temp)
            .unwrap_or_else(|| RgbImage::new(width, height));
    }
    let mut out = vec![0u8; out_h * out_w * 3];
    for (y, (first, weights)) in vertical.first.iter().zip(&vertical.weights).enumerate() {
        let first = first - row_first;
        for i in 0..out_w * 3 {
            let mut sum: i64 = 1 << (PRECISION_BITS - 1);
            for (k, w) in weights.iter().enumerate() {
                sum += i64::from(temp[(first + k) * out_w * 3 + i]) * i64::from(*w);
            }
            out[y * out_w * 3 + i] = clip8(sum);
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_from_pil_numbers() {
        assert_eq!(Filter::from_pil(2), Some(Filter::Bilinear));
        assert_eq!(Filter::from_pil(3), Some(Filter::Bicubic));
        assert_eq!(Filter::from_pil(0), None);
    }

    #[test]
    fn a_flat_image_stays_flat_and_sizes_are_exact() {
        let image = RgbImage::from_pixel(17, 9, image::Rgb([40, 128, 250]));
        for filter in [
            Filter::Bilinear,
            Filter::Bicubic,
            Filter::Lanczos,
            Filter::Box,
        ] {
            let out = resize(&image, 5, 23, filter);
            assert_eq!(out.dimensions(), (5, 23));
            assert!(out.pixels().all(|p| p.0 == [40, 128, 250]), "{filter:?}");
        }
        assert_eq!(resize(&image, 0, 3, Filter::Bilinear).dimensions(), (0, 3));
    }

    #[test]
    fn matches_pillow_on_a_small_gradient() {
        // Pillow 13: Image.frombytes("RGB", (4, 1), bytes([0,0,0, 100,50,25, 200,100,50, 255,255,255]))
        //   .resize((3, 1), Image.BICUBIC) → (19, 9, 5), (152, 71, 31), (247, 220, 206)
        let image = RgbImage::from_raw(
            4,
            1,
            vec![0, 0, 0, 100, 50, 25, 200, 100, 50, 255, 255, 255],
        )
        .unwrap();
        let out = resize(&image, 3, 1, Filter::Bicubic);
        assert_eq!(
            out.pixels().map(|p| p.0).collect::<Vec<_>>(),
            [[19, 9, 5], [152, 71, 31], [247, 220, 206]]
        );
    }
}
