//! PNG files with text chunks: a generated picture saved with its prompt and settings, which
//! image viewers and other generators read back (`tEXt` for Latin-1 text, `iTXt` otherwise).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use image::RgbImage;

/// Writes `image` to `path` as an 8-bit RGB PNG carrying `text` as key/value chunks. The file is
/// written beside the target and renamed over it, so a failure leaves no half-written PNG.
pub fn save(path: &Path, image: &RgbImage, text: &[(String, String)]) -> Result<(), String> {
    let partial = path.with_extension("png.partial");
    let written = write(&partial, image, text);
    match written.and_then(|()| std::fs::rename(&partial, path).map_err(|e| e.to_string())) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write(path: &Path, image: &RgbImage, text: &[(String, String)]) -> Result<(), String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    let mut out = BufWriter::new(file);
    encode_into(&mut out, image, text)?;
    out.flush().map_err(|e| e.to_string())
}

/// `image` as an 8-bit RGB PNG in memory, carrying `text` like [`save`] (the server's answers).
pub fn encode(image: &RgbImage, text: &[(String, String)]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    encode_into(&mut bytes, image, text)?;
    Ok(bytes)
}

fn encode_into(
    out: &mut impl Write,
    image: &RgbImage,
    text: &[(String, String)],
) -> Result<(), String> {
    let mut encoder = png::Encoder::new(out, image.width(), image.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    for (key, value) in text {
        let added = if value.chars().all(|c| (c as u32) < 256) {
            encoder.add_text_chunk(key.clone(), value.clone())
        } else {
            encoder.add_itxt_chunk(key.clone(), value.clone())
        };
        added.map_err(|e| e.to_string())?;
    }
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(image.as_raw())
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_and_text_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        let image = RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8 * 80, y as u8 * 90, 7]));
        let text = [
            ("prompt".to_string(), "a cat on the moon".to_string()),
            ("negative_prompt".to_string(), "blurry — 低画質".to_string()),
        ];
        save(&path, &image, &text).unwrap();
        assert_eq!(crate::media::load_image(&path).unwrap(), image);
        let reader = png::Decoder::new(std::io::BufReader::new(File::open(&path).unwrap()))
            .read_info()
            .unwrap();
        let info = reader.info();
        assert_eq!(info.uncompressed_latin1_text[0].text, "a cat on the moon");
        assert_eq!(info.utf8_text[0].get_text().unwrap(), "blurry — 低画質");
        assert!(!dir.path().join("out.png.partial").exists());
        let missing = dir.path().join("no-such-folder/out.png");
        assert!(save(&missing, &image, &text).is_err());
    }
}
