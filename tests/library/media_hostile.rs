//! Hostile and broken image files: each gives a clear error, never a panic or a huge
//! allocation (the 50 000 × 50 000 PNG is refused from its header, before any pixel is decoded).
//! And a real MP3 cut mid-frame (LAME, `tests/fixtures/audio/README.md`): the decoded prefix or
//! a clear error.

use crate::support::audio;

use std::io::Cursor;
use std::path::Path;

use hubble::media::audio::{AudioError, load_16k_mono};
use hubble::media::{MediaError, decode_image, load_image};

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A well-formed PNG header announcing `width` × `height` RGB pixels, with a token IDAT.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of a few zero bytes (a stored block).
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0, 0x04, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

#[test]
fn a_50000_by_50000_png_is_refused_from_its_header() {
    let bytes = png_header(50_000, 50_000);
    assert!(bytes.len() < 100, "the file itself is tiny");
    let err = decode_image(&bytes).unwrap_err();
    assert_eq!(
        err,
        MediaError::TooLarge {
            width: 50_000,
            height: 50_000
        }
    );
    assert_eq!(
        err.to_string(),
        "the image is 50000 × 50000 pixels, more than the 100 megapixel limit: scale it down first"
    );
    // Within the limit, the same header fails cleanly: its pixel data is missing.
    assert!(matches!(
        decode_image(&png_header(4, 1)),
        Err(MediaError::Corrupt { .. })
    ));
}

#[test]
fn truncated_png_and_jpeg_give_clear_errors() {
    for (format, name) in [
        (image::ImageFormat::Png, "png"),
        (image::ImageFormat::Jpeg, "jpg"),
    ] {
        let bytes = encoded(format);
        assert_eq!(decode_image(&bytes).unwrap().dimensions(), (64, 48));
        for cut in [8, 30, bytes.len() / 2] {
            match decode_image(&bytes[..cut]) {
                Err(MediaError::Corrupt { format, message }) => {
                    assert_eq!(format, name);
                    assert!(!message.is_empty());
                }
                Err(other) => panic!("{name} cut at {cut}: {other}"),
                Ok(image) => panic!("{name} cut at {cut} decoded as {:?}", image.dimensions()),
            }
        }
        // Cut inside the trailer (PNG's IEND, JPEG's end marker): every pixel is there, and
        // the decoders give the whole image.
        let image = decode_image(&bytes[..bytes.len() - 3])
            .unwrap_or_else(|e| panic!("{name} without its last 3 bytes: {e}"));
        assert_eq!(image.dimensions(), (64, 48));
    }
    let message = decode_image(&encoded(image::ImageFormat::Png)[..40])
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("could not decode the png image ("),
        "{message}"
    );
    assert!(
        message.ends_with("the file is damaged or truncated"),
        "{message}"
    );
}

#[test]
fn empty_files_and_wrong_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(load_image(&empty), Err(MediaError::Empty));
    // A WAV named .png: the content decides, and it is no image.
    let wav = dir.path().join("sound.png");
    std::fs::write(&wav, b"RIFF\x24\x00\x00\x00WAVEfmt ").unwrap();
    assert_eq!(
        load_image(&wav).unwrap_err().to_string(),
        "not an image Hubble can read: use PNG, JPEG, GIF, WebP or BMP"
    );
    // A real PNG named .jpg is read as the PNG it is.
    let png = dir.path().join("photo.jpg");
    std::fs::write(&png, encoded(image::ImageFormat::Png)).unwrap();
    assert_eq!(load_image(&png).unwrap().dimensions(), (64, 48));
    let missing = load_image(&dir.path().join("nope.png")).unwrap_err();
    assert!(matches!(missing, MediaError::Io(_)), "{missing:?}");
}

#[test]
fn a_truncated_mp3_gives_its_decoded_prefix_or_a_clear_error() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio");
    let speech = load_16k_mono(&fixtures.join("speech.wav")).unwrap().samples;
    match load_16k_mono(&fixtures.join("speech_truncated.mp3")) {
        Ok(clip) => {
            // 12 000 of 19 872 bytes: 82 whole frames of 576 samples after the LAME header,
            // 2.95 s of the 4.9 s (the cut 84th frame is dropped or partly decoded).
            let seconds = clip.seconds();
            eprintln!("decoded {seconds:.3} s of the truncated MP3");
            assert!((2.8..3.1).contains(&seconds), "{seconds} s");
            // The prefix is the speech's beginning, behind the encoder's delay (LAME: 1105
            // samples, kept since symphonia's gapless mode is off).
            let source = &speech[..clip.samples.len() - 2_000];
            let (lag, correlation) = audio::best_alignment(&clip.samples, source);
            eprintln!("correlation {correlation:.4} with the speech at a lag of {lag} samples");
            assert!(lag < 2_000, "lag {lag}");
            assert!(correlation > 0.9, "correlation {correlation} at lag {lag}");
        }
        Err(e @ (AudioError::Unsupported { .. } | AudioError::Empty { .. })) => {
            let message = e.to_string();
            assert!(message.contains("speech_truncated.mp3"), "{message}");
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}
