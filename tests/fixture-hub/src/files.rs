//! Serving file bytes: `Range` requests, and the headers resolve and the CDN send.

use crate::http::{Body, Response};
use crate::repos::StoredFile;

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, PartialEq, Eq)]
enum Span {
    /// No usable range: the whole file (RFC 9110 says to ignore invalid or multi-range headers).
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Nothing of the file can satisfy it.
    Unsatisfiable,
}

fn parse_range(header: Option<&str>, len: u64) -> Span {
    let Some(spec) = header.and_then(|h| {
        let (unit, spec) = h.trim().split_once('=')?;
        unit.trim()
            .eq_ignore_ascii_case("bytes")
            .then_some(spec.trim())
    }) else {
        return Span::Whole;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Span::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match last.parse::<u64>() {
            Ok(0) => Span::Unsatisfiable,
            Ok(_) if len == 0 => Span::Unsatisfiable,
            Ok(n) => Span::Part(len.saturating_sub(n), len - 1),
            Err(_) => Span::Whole,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return Span::Whole;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return Span::Whole,
        }
    };
    if start >= len {
        Span::Unsatisfiable
    } else {
        Span::Part(start, end.min(len - 1))
    }
}

/// `200` with the whole file, `206` with the requested range, or `416`, carrying `ETag` and
/// `Accept-Ranges`; the caller adds repository headers.
/// `range` is the request's `Range` header (see [`crate::hub::Shared::range`]).
pub(crate) fn serve(range: Option<&str>, file: &StoredFile, content_type: &str) -> Response {
    let len = file.len();
    let base = Response::new(200)
        .header("Content-Type", content_type)
        .header("Accept-Ranges", "bytes")
        .header("ETag", &format!("\"{}\"", file.etag()));
    let (status, start, count) = match parse_range(range, len) {
        Span::Whole => (200, 0, len),
        Span::Part(start, end) => (206, start, end - start + 1),
        Span::Unsatisfiable => {
            let mut response = base.header("Content-Range", &format!("bytes */{len}"));
            response.status = 416;
            return response;
        }
    };
    let mut response = base.body(Body::Content {
        content: file.content.clone(),
        start,
        len: count,
    });
    if status == 206 {
        response.status = 206;
        response = response.header(
            "Content-Range",
            &format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    response
}

/// The `Content-Type` resolve sends for a path: text types for text files, else octet-stream.
pub(crate) fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let text = [
        ".json", ".txt", ".md", ".py", ".yaml", ".yml", ".jinja", ".csv",
    ];
    if name == ".gitattributes" || text.iter().any(|ext| name.ends_with(ext)) {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str, len| parse_range(Some(h), len);
        assert_eq!(r("bytes=0-9", 100), Span::Part(0, 9));
        assert_eq!(r("bytes=90-", 100), Span::Part(90, 99));
        assert_eq!(r("bytes=90-200", 100), Span::Part(90, 99));
        assert_eq!(r("bytes=-10", 100), Span::Part(90, 99));
        assert_eq!(r("bytes=-200", 100), Span::Part(0, 99));
        assert_eq!(r("bytes=100-", 100), Span::Unsatisfiable);
        assert_eq!(r("bytes=-0", 100), Span::Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Span::Unsatisfiable);
        assert_eq!(r("bytes=5-1", 100), Span::Whole);
        assert_eq!(r("bytes=0-1,5-6", 100), Span::Whole);
        assert_eq!(r("items=0-1", 100), Span::Whole);
        assert_eq!(r("bytes=x-1", 100), Span::Whole);
        assert_eq!(parse_range(None, 100), Span::Whole);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a/config.json"), "text/plain; charset=utf-8");
        assert_eq!(content_type(".gitattributes"), "text/plain; charset=utf-8");
        assert_eq!(
            content_type("model.safetensors"),
            "application/octet-stream"
        );
    }
}
