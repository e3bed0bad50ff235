//! transformers' image processors (ViT, ConvNeXt/ResNet, CLIP, SigLIP, BLIP, and any other that
//! resizes, center-crops, rescales and normalises) read from preprocessor_config.json.
//! The steps and their rounding follow the PIL backend: resize in u8 through Pillow's filters,
//! crop (zero padding when the crop is larger), `u8 as f64 * scale` stored as f32, then
//! `(x - mean) / std` in f32.

use std::path::Path;

use image::RgbImage;
use serde_json::Value;

use super::resample::{Filter, resize};

/// The resize rule from `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Exactly this height and width.
    Exact {
        /// Rows.
        height: u32,
        /// Columns.
        width: u32,
    },
    /// The shorter side becomes this long, keeping the aspect ratio.
    ShortestEdge(u32),
}

/// A parsed preprocessor_config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageProcessor {
    /// `image_processor_type` (e.g. `ConvNextImageProcessor`).
    pub kind: String,
    /// `do_resize` and its rule.
    pub resize: Option<Size>,
    /// The filter (`resample`).
    pub filter: Filter,
    /// ConvNeXt's `crop_pct` (resize to `shortest_edge / crop_pct`, then crop `shortest_edge`).
    pub crop_pct: Option<f64>,
    /// `do_center_crop` and `crop_size` (height, width).
    pub center_crop: Option<(u32, u32)>,
    /// `do_rescale` and `rescale_factor`.
    pub rescale: Option<f64>,
    /// `do_normalize` with `image_mean` and `image_std`.
    pub normalize: Option<([f32; 3], [f32; 3])>,
}

/// A preprocessed image: `3 × height × width` floats, channel first.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelValues {
    /// The values, channel-major.
    pub data: Vec<f32>,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// Why an image processor could not be built or could not process an image.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The model folder has no preprocessor_config.json.
    #[error("missing preprocessor_config.json in {}", .0.display())]
    MissingConfig(std::path::PathBuf),
    /// preprocessor_config.json could not be read or understood.
    #[error("{}: {message}", path.display())]
    BadConfig {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The image can't be processed (no pixels, too thin).
    #[error("{0}")]
    Image(String),
}

/// `dir/preprocessor_config.json` parsed, with its path (for the processors' error messages).
pub fn read_config(dir: &Path) -> Result<(std::path::PathBuf, Value), PreprocessError> {
    let path = dir.join("preprocessor_config.json");
    if !path.is_file() {
        return Err(PreprocessError::MissingConfig(dir.to_path_buf()));
    }
    let bad = |message: String| PreprocessError::BadConfig {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    Ok((path, json))
}

impl ImageProcessor {
    /// Reads `dir/preprocessor_config.json`.
    pub fn from_dir(dir: &Path) -> Result<ImageProcessor, PreprocessError> {
        let (path, json) = read_config(dir)?;
        ImageProcessor::from_json(&json)
            .map_err(|message| PreprocessError::BadConfig { path, message })
    }

    /// Parses the JSON; missing keys take the defaults of the named processor class.
    pub fn from_json(json: &Value) -> Result<ImageProcessor, String> {
        let kind = json
            .get("image_processor_type")
            .and_then(Value::as_str)
            .unwrap_or("ViTImageProcessor")
            .trim_end_matches("Fast")
            .trim_end_matches("Pil")
            .to_string();
        let convnext = kind.starts_with("ConvNext");
        let blip = kind.starts_with("Blip");
        let shortest_default = kind.starts_with("CLIP") || convnext;
        let flag =
            |key: &str, default: bool| json.get(key).and_then(Value::as_bool).unwrap_or(default);
        let side = if blip { 384 } else { 224 };
        let size = parse_size(json.get("size"), shortest_default)?.unwrap_or(if shortest_default {
            Size::ShortestEdge(side)
        } else {
            Size::Exact {
                height: side,
                width: side,
            }
        });
        let resample = json
            .get("resample")
            .and_then(Value::as_u64)
            .unwrap_or(if kind.starts_with("ViT") { 2 } else { 3 });
        let filter = Filter::from_pil(resample).ok_or_else(|| {
            format!("resample {resample} (nearest) is not supported: use 1-5 (Pillow filters)")
        })?;
        let crop = match parse_size(json.get("crop_size"), false)? {
            Some(Size::Exact { height, width }) => Some((height, width)),
            Some(Size::ShortestEdge(s)) => Some((s, s)),
            None => match size {
                Size::ShortestEdge(s) => Some((s, s)),
                Size::Exact { height, width } => Some((height, width)),
            },
        };
        let triple = |key: &str, default: [f32; 3]| -> Result<[f32; 3], String> {
            match json.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Number(n)) => Ok([n.as_f64().unwrap_or(0.0) as f32; 3]),
                Some(Value::Array(a)) if a.len() == 3 => {
                    let mut out = [0f32; 3];
                    for (o, v) in out.iter_mut().zip(a) {
                        *o = v
                            .as_f64()
                            .ok_or_else(|| format!("{key} must hold numbers"))?
                            as f32;
                    }
                    Ok(out)
                }
                Some(other) => Err(format!("{key} must be three numbers, not {other}")),
            }
        };
        let (mean_default, std_default) = if kind.starts_with("CLIP") || blip {
            (
                [0.481_454_66, 0.457_827_5, 0.408_210_73],
                [0.268_629_54, 0.261_302_6, 0.275_777_1],
            )
        } else if convnext {
            ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        } else {
            ([0.5; 3], [0.5; 3])
        };
        let std = triple("image_std", std_default)?;
        if std.contains(&0.0) {
            return Err("image_std must not contain 0".into());
        }
        Ok(ImageProcessor {
            resize: flag("do_resize", true).then_some(size),
            filter,
            crop_pct: convnext.then(|| {
                json.get("crop_pct")
                    .and_then(Value::as_f64)
                    .unwrap_or(224.0 / 256.0)
            }),
            center_crop: flag("do_center_crop", kind.starts_with("CLIP"))
                .then_some(crop)
                .flatten(),
            rescale: flag("do_rescale", true).then(|| {
                json.get("rescale_factor")
                    .and_then(Value::as_f64)
                    .unwrap_or(1.0 / 255.0)
            }),
            normalize: if flag("do_normalize", true) {
                Some((triple("image_mean", mean_default)?, std))
            } else {
                None
            },
            kind,
        })
    }

    /// Runs resize → center crop → rescale → normalise on an RGB image.
    pub fn preprocess(&self, image: &RgbImage) -> Result<PixelValues, PreprocessError> {
        if image.width() == 0 || image.height() == 0 {
            return Err(PreprocessError::Image("the image has no pixels".into()));
        }
        let mut crop = self.center_crop;
        let mut resized = None;
        if let Some(size) = self.resize {
            let (height, width) = match (size, self.crop_pct) {
                (Size::ShortestEdge(s), Some(pct)) if s < 384 => {
                    crop = Some((s, s));
                    shortest_edge(image, (f64::from(s) / pct) as u32)
                }
                (Size::ShortestEdge(s), Some(_)) => {
                    crop = None;
                    (s, s)
                }
                (Size::ShortestEdge(s), None) => shortest_edge(image, s),
                (Size::Exact { height, width }, _) => (height, width),
            };
            if height == 0 || width == 0 {
                return Err(PreprocessError::Image(format!(
                    "the image ({} × {}) is too thin to resize",
                    image.width(),
                    image.height()
                )));
            }
            resized = Some(resize(image, width, height, self.filter));
        }
        let image = resized.as_ref().unwrap_or(image);
        let (in_h, in_w) = (image.height() as i64, image.width() as i64);
        let (out_h, out_w) = crop.map_or((in_h, in_w), |(h, w)| (i64::from(h), i64::from(w)));
        let top = (in_h - out_h).div_euclid(2);
        let left = (in_w - out_w).div_euclid(2);
        let (scale, (mean, std)) = (self.rescale, self.normalize.unwrap_or(([0.0; 3], [1.0; 3])));
        let plane = (out_h * out_w) as usize;
        let mut data = vec![0f32; 3 * plane];
        for y in 0..out_h {
            for x in 0..out_w {
                let (sy, sx) = (y + top, x + left);
                let pixel = if (0..in_h).contains(&sy) && (0..in_w).contains(&sx) {
                    image.get_pixel(sx as u32, sy as u32).0
                } else {
                    [0; 3]
                };
                for c in 0..3 {
                    let v = match scale {
                        Some(s) => (f64::from(pixel[c]) * s) as f32,
                        None => f32::from(pixel[c]),
                    };
                    data[c * plane + (y * out_w + x) as usize] = (v - mean[c]) / std[c];
                }
            }
        }
        Ok(PixelValues {
            data,
            height: out_h as usize,
            width: out_w as usize,
        })
    }
}

/// transformers' `get_resize_output_image_size(default_to_square=False)`: (height, width).
fn shortest_edge(image: &RgbImage, size: u32) -> (u32, u32) {
    let (w, h) = (image.width(), image.height());
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short)) as u32;
    if w <= h {
        (new_long, size)
    } else {
        (size, new_long)
    }
}

fn parse_size(value: Option<&Value>, int_is_shortest: bool) -> Result<Option<Size>, String> {
    let dim = |v: &Value| {
        v.as_u64()
            .filter(|n| (1..=8192).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| format!("image size {v} must be between 1 and 8192"))
    };
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(v @ Value::Number(_)) if int_is_shortest => Some(Size::ShortestEdge(dim(v)?)),
        Some(v @ Value::Number(_)) => {
            let n = dim(v)?;
            Some(Size::Exact {
                height: n,
                width: n,
            })
        }
        Some(Value::Object(map)) => {
            if let Some(s) = map.get("shortest_edge") {
                Some(Size::ShortestEdge(dim(s)?))
            } else if let (Some(h), Some(w)) = (map.get("height"), map.get("width")) {
                Some(Size::Exact {
                    height: dim(h)?,
                    width: dim(w)?,
                })
            } else {
                return Err(format!(
                    "size {} needs shortest_edge or height and width",
                    Value::Object(map.clone())
                ));
            }
        }
        Some(other) => return Err(format!("size must be a number or an object, not {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configs_parse_with_class_defaults() {
        let vit = ImageProcessor::from_json(&json!({"image_processor_type": "ViTImageProcessor"}))
            .unwrap();
        assert_eq!(
            vit.resize,
            Some(Size::Exact {
                height: 224,
                width: 224
            })
        );
        assert_eq!(vit.filter, Filter::Bilinear);
        assert_eq!(vit.center_crop, None);
        let clip = ImageProcessor::from_json(&json!({
            "image_processor_type": "CLIPImageProcessor", "size": 224, "crop_size": 224}))
        .unwrap();
        assert_eq!(clip.resize, Some(Size::ShortestEdge(224)));
        assert_eq!(clip.center_crop, Some((224, 224)));
        assert_eq!(clip.filter, Filter::Bicubic);
        let convnext = ImageProcessor::from_json(&json!({
            "image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 224}}))
        .unwrap();
        assert_eq!(convnext.crop_pct, Some(0.875));
        let blip =
            ImageProcessor::from_json(&json!({"image_processor_type": "BlipImageProcessor"}))
                .unwrap();
        assert_eq!(
            blip.resize,
            Some(Size::Exact {
                height: 384,
                width: 384
            })
        );
        assert_eq!((blip.filter, blip.center_crop), (Filter::Bicubic, None));
        assert_eq!(
            blip.normalize.map(|(mean, _)| mean),
            Some([0.481_454_66, 0.457_827_5, 0.408_210_73])
        );
        assert!(ImageProcessor::from_json(&json!({"resample": 0})).is_err());
        assert!(ImageProcessor::from_json(&json!({"size": {"long": 3}})).is_err());
        assert!(ImageProcessor::from_json(&json!({"size": 0})).is_err());
    }

    #[test]
    fn crop_larger_than_the_image_pads_with_zero_before_normalising() {
        let p = ImageProcessor::from_json(&json!({
            "do_resize": false, "do_center_crop": true, "crop_size": {"height": 3, "width": 1},
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
        .unwrap();
        let image = RgbImage::from_pixel(1, 2, image::Rgb([255, 255, 255]));
        let out = p.preprocess(&image).unwrap();
        assert_eq!((out.height, out.width), (3, 1));
        // numpy's center_crop: top = (2 - 3) // 2 = -1, so the padding row comes first.
        assert_eq!(&out.data[..3], &[-1.0, 1.0, 1.0]);
    }
}
