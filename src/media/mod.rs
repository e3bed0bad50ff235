//! Media files for the Try tab and `hubble run`: images decoded with the `image` crate behind
//! size limits, and the image processors' preprocessing (Pillow-exact resampling); audio files,
//! audio resampling, the microphone, playback of a stretch of audio and transcripts.
//!
//! - [`image`](self::load_image): bytes or a file → an RGB image, refusing decompression bombs
//!   (dimensions are read from the header before anything is decoded).
//! - [`resample`]: Pillow's resize (bilinear, bicubic, lanczos, box, hamming) on 8-bit RGB.
//! - [`png_text`]: a PNG with text chunks (a generated picture's prompt and settings).
//! - [`preprocess`]: preprocessor_config.json → resize, center-crop, rescale, normalise → CHW
//!   floats, equal to transformers' PIL image processors.

pub mod audio;
pub mod audio_device;
pub mod audio_features;
pub mod audio_resample;
pub mod detection_preprocess;
pub mod fft;
pub mod mic;
pub mod playback;
pub mod png_text;
pub mod preprocess;
pub mod resample;
pub mod transcript;

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, ImageReader, RgbImage};

pub use preprocess::ImageProcessor;

/// The most pixels an image may have (100 megapixels, e.g. 10 000 × 10 000).
pub const MAX_PIXELS: u64 = 100_000_000;

/// The largest image file read (bytes).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Image file extensions the decoder reads (lower case, no dot).
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "gif", "webp", "bmp"];

/// Why an image could not be read; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The file is empty.
    #[error("the file is empty (0 bytes): pick an image file")]
    Empty,
    /// The bytes are no image format the decoder knows.
    #[error("not an image Hubble can read: use PNG, JPEG, GIF, WebP or BMP")]
    UnknownFormat,
    /// The header announces more pixels than [`MAX_PIXELS`].
    #[error(
        "the image is {width} × {height} pixels, more than the {} megapixel limit: scale it down first",
        MAX_PIXELS / 1_000_000
    )]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
    },
    /// The file is bigger than [`MAX_FILE_BYTES`].
    #[error("the file is {0} bytes, more than the 256 MiB limit for images")]
    FileTooLarge(u64),
    /// The decoder failed (truncated or corrupt data).
    #[error("could not decode the {format} image ({message}): the file is damaged or truncated")]
    Corrupt {
        /// The format the header claimed.
        format: String,
        /// The decoder's message.
        message: String,
    },
    /// The file could not be read.
    #[error("{0}")]
    Io(String),
}

/// Reads and decodes an image file (see [`decode_image`]).
pub fn load_image(path: &Path) -> Result<RgbImage, MediaError> {
    let meta =
        std::fs::metadata(path).map_err(|e| MediaError::Io(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(MediaError::FileTooLarge(meta.len()));
    }
    let bytes =
        std::fs::read(path).map_err(|e| MediaError::Io(format!("{}: {e}", path.display())))?;
    decode_image(&bytes)
}

/// Decodes image bytes (the format is sniffed from the content, not a file name) to 8-bit RGB;
/// transparency is composited on white, as transformers' `convert_rgb` does. The header's
/// dimensions are checked against [`MAX_PIXELS`] before any pixel is decoded.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| MediaError::UnknownFormat)?;
    let name = format_name(format);
    let corrupt = |e: image::ImageError| MediaError::Corrupt {
        format: name.to_string(),
        message: e.to_string(),
    };
    let header = ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = header.into_dimensions().map_err(corrupt)?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(MediaError::TooLarge { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width.max(1));
    limits.max_image_height = Some(height.max(1));
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let decoded = reader.decode().map_err(corrupt)?;
    Ok(match decoded {
        image::DynamicImage::ImageRgb8(rgb) => rgb,
        other => rgba_to_rgb(&other.to_rgba8()),
    })
}

/// Whether a file name has an image extension ([`IMAGE_EXTENSIONS`]).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn format_name(format: ImageFormat) -> &'static str {
    format.extensions_str().first().copied().unwrap_or("image")
}

/// Pillow's `alpha_composite` of the image over opaque white, then RGB (fixed point, 7 bits),
/// as transformers' `convert_rgb` does for images with transparency.
pub fn rgba_to_rgb(rgba: &image::RgbaImage) -> RgbImage {
    const SHIFT: u32 = 7;
    let div255 = |a: u32| ((a >> 8) + a) >> 8;
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = src.0.map(u32::from);
        if a == 0 {
            dst.0 = [255, 255, 255];
            continue;
        }
        let outa255 = a * 255 + 255 * (255 - a);
        let coef1 = a * 255 * 255 * (1 << SHIFT) / outa255;
        let coef2 = 255 * (1 << SHIFT) - coef1;
        let blend = |c: u32| (div255(c * coef1 + 255 * coef2 + (0x80 << SHIFT)) >> SHIFT) as u8;
        dst.0 = [blend(r), blend(g), blend(b)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_a_png_and_refuses_empty_or_unknown_bytes() {
        let image = decode_image(&png(3, 2)).unwrap();
        assert_eq!(image.dimensions(), (3, 2));
        assert_eq!(decode_image(&[]), Err(MediaError::Empty));
        assert_eq!(
            decode_image(b"ID3 this is an mp3"),
            Err(MediaError::UnknownFormat)
        );
    }

    #[test]
    fn opaque_and_transparent_pixels_composite_like_pillow() {
        let mut rgba = image::RgbaImage::new(3, 1);
        rgba.put_pixel(0, 0, image::Rgba([10, 20, 30, 255]));
        rgba.put_pixel(1, 0, image::Rgba([10, 20, 30, 0]));
        rgba.put_pixel(2, 0, image::Rgba([0, 100, 200, 128]));
        let rgb = rgba_to_rgb(&rgba);
        assert_eq!(rgb.get_pixel(0, 0).0, [10, 20, 30]);
        assert_eq!(rgb.get_pixel(1, 0).0, [255, 255, 255]);
        // Pillow: Image.alpha_composite(white, (0, 100, 200, 128)) → (127, 177, 227).
        assert_eq!(rgb.get_pixel(2, 0).0, [127, 177, 227]);
    }

    #[test]
    fn image_extensions() {
        assert!(has_image_extension(Path::new("a/b.JPG")));
        assert!(!has_image_extension(Path::new("a/b.wav")));
        assert!(!has_image_extension(Path::new("noext")));
    }
}
