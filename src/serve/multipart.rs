//! `multipart/form-data` bodies (an audio upload with its form fields), read whole.

use hyper::body::Bytes;

/// One form field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// The uploaded file's name, for a file field.
    pub filename: Option<String>,
    /// Its bytes.
    pub data: Bytes,
}

impl Field {
    /// The value as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// The fields of `body`, sent as `content_type` (`multipart/form-data; boundary=…`).
pub fn parse(content_type: &str, body: &Bytes) -> Result<Vec<Field>, String> {
    let boundary = boundary(content_type).ok_or_else(|| {
        format!("expected a multipart/form-data body with a boundary, got {content_type:?}")
    })?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut fields = Vec::new();
    let mut at = find(body, &delimiter, 0).ok_or("the body has no form fields")? + delimiter.len();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(fields);
        }
        at += skip_line_end(&body[at..]);
        let headers_end =
            find(body, b"\r\n\r\n", at).ok_or("a form field has no end to its headers")?;
        let headers = String::from_utf8_lossy(&body[at..headers_end]).into_owned();
        let data_start = headers_end + 4;
        let next = find(body, &delimiter, data_start).ok_or("a form field is not closed")?;
        // The data ends before the CRLF that precedes the next delimiter.
        let data_end = if next >= 2 && &body[next - 2..next] == b"\r\n" {
            next - 2
        } else {
            next
        };
        let (name, filename) = disposition(&headers).ok_or("a form field has no name")?;
        fields.push(Field {
            name,
            filename,
            data: body.slice(data_start..data_end.max(data_start)),
        });
        at = next + delimiter.len();
    }
}

fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// `name` and `filename` from the `Content-Disposition` header among `headers`.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let line = headers.lines().find(|line| {
        line.to_ascii_lowercase()
            .starts_with("content-disposition:")
    })?;
    let mut name = None;
    let mut filename = None;
    for param in line.split(';').skip(1) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(value),
            "filename" => filename = Some(value),
            _ => {}
        }
    }
    Some((name?, filename))
}

fn skip_line_end(rest: &[u8]) -> usize {
    if rest.starts_with(b"\r\n") {
        2
    } else if rest.starts_with(b"\n") {
        1
    } else {
        0
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_files() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-tiny.en\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
              Content-Type: audio/wav\r\n\r\nRIFF\r\n--\x00data\r\n--XyZ--\r\n",
        );
        let fields = parse("multipart/form-data; boundary=\"XyZ\"", &body).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].name, "model");
        assert_eq!(fields[0].text(), "openai/whisper-tiny.en");
        assert_eq!(fields[1].filename.as_deref(), Some("a.wav"));
        assert_eq!(&fields[1].data[..], b"RIFF\r\n--\x00data");
    }

    #[test]
    fn refuses_what_is_not_multipart() {
        assert!(parse("application/json", &Bytes::from_static(b"{}")).is_err());
        assert!(
            parse(
                "multipart/form-data; boundary=b",
                &Bytes::from_static(b"nothing")
            )
            .is_err()
        );
        let unclosed =
            Bytes::from_static(b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1");
        assert!(parse("multipart/form-data; boundary=b", &unclosed).is_err());
    }
}
