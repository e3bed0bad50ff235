//! Reading weight-file headers from the Hub without downloading the weights: HTTP `Range`
//! requests for exactly the bytes a parser needs, or, from a server that ignores `Range` and
//! sends the whole file, the body read only as far as needed before the connection is dropped.

use serde::Serialize;

use super::error::FitError;
use super::format_error::FormatError;
use super::{gguf, safetensors};
use crate::cache::CachedRepo;
use crate::hub::{HubClient, RangeBody, RepoId};

/// Bytes asked for by the first request of a file: enough for most safetensors headers and the
/// start of a GGUF header; the Range traffic of a safetensors file is thus at most
/// `header + 64 KiB`.
pub const FIRST_REQUEST: u64 = 64 * 1024;

/// A header read from the Hub, with what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderRead<T> {
    /// The parsed header.
    pub header: T,
    /// The file's path in the repository.
    pub path: String,
    /// The file's length, as the server announced it.
    pub file_len: Option<u64>,
    /// Body bytes received (what this client consumed from the network).
    pub bytes_received: u64,
    /// HTTP requests made.
    pub requests: u32,
    /// Whether the server honoured `Range` (else the whole-file answer was cut short).
    pub range_honoured: bool,
}

/// The start of a remote file, fetched on demand (from the local cache's copy when there is one,
/// so offline pages and downloaded models need no network).
struct RemotePrefix<'a> {
    local: Option<std::fs::File>,
    client: &'a HubClient,
    repo: &'a RepoId,
    revision: Option<&'a str>,
    path: &'a str,
    buf: Vec<u8>,
    body: Option<RangeBody>,
    /// Bytes of the current body still to drop (a `200` answer to a request from an offset).
    skip: u64,
    file_len: Option<u64>,
    received: u64,
    requests: u32,
    range_honoured: bool,
    ended: bool,
}

impl<'a> RemotePrefix<'a> {
    fn new(
        client: &'a HubClient,
        repo: &'a RepoId,
        revision: Option<&'a str>,
        path: &'a str,
    ) -> Self {
        let cached = CachedRepo::new(&client.config().hub_cache, repo)
            .snapshot_file(revision.unwrap_or("main"), path);
        RemotePrefix {
            local: cached.and_then(|file| std::fs::File::open(file).ok()),
            client,
            repo,
            revision,
            path,
            buf: Vec::new(),
            body: None,
            skip: 0,
            file_len: None,
            received: 0,
            requests: 0,
            range_honoured: true,
            ended: false,
        }
    }

    /// Makes the buffer hold the first `len` bytes of the file (fewer if the file is shorter),
    /// asking the server for at least `ask` bytes when a new request is needed.
    async fn ensure(&mut self, len: u64, ask: u64) -> Result<(), FitError> {
        if self.local.is_some() {
            return self.ensure_local(len);
        }
        loop {
            // The file's length is known after the first answer.
            let target = self.file_len.map_or(len, |f| len.min(f));
            if self.buf.len() as u64 >= target || self.ended {
                return Ok(());
            }
            let Some(body) = self.body.as_mut() else {
                let start = self.buf.len() as u64;
                let mut end = start + ask.max(target - start);
                if let Some(f) = self.file_len {
                    end = end.min(f);
                }
                let body = self
                    .client
                    .open_range(self.repo, self.revision, self.path, start, Some(end))
                    .await?;
                self.requests += 1;
                self.file_len = self.file_len.or(body.file_len());
                if !body.is_partial() {
                    self.range_honoured = false;
                }
                self.skip = start - body.offset();
                self.body = Some(body);
                continue;
            };
            let before = body.received();
            let mut chunk = Vec::new();
            let n = body.read_into(&mut chunk).await?;
            self.received += body.received() - before;
            if n == 0 {
                // A 206 answer ended: the next round asks for more. A 200 answer ended: that
                // was the whole file.
                let whole = !body.is_partial();
                self.body = None;
                if whole {
                    self.ended = true;
                }
                continue;
            }
            let drop = self.skip.min(chunk.len() as u64) as usize;
            self.skip -= drop as u64;
            self.buf.extend_from_slice(&chunk[drop..]);
        }
    }

    /// [`RemotePrefix::ensure`] from the cached copy: reads the missing bytes of the first `len`.
    fn ensure_local(&mut self, len: u64) -> Result<(), FitError> {
        use std::io::{Read, Seek, SeekFrom};
        let Some(file) = self.local.as_mut() else {
            return Ok(());
        };
        let io = |e: std::io::Error| FitError::Format {
            path: self.path.to_string(),
            error: FormatError::invalid(format!("reading the cached file: {e}")),
        };
        let file_len = file.metadata().map_err(io)?.len();
        self.file_len = Some(file_len);
        let target = len.min(file_len);
        let held = self.buf.len() as u64;
        if held >= target {
            self.ended = held >= file_len;
            return Ok(());
        }
        file.seek(SeekFrom::Start(held)).map_err(io)?;
        let mut chunk = Vec::new();
        file.take(target - held)
            .read_to_end(&mut chunk)
            .map_err(io)?;
        self.buf.extend_from_slice(&chunk);
        self.ended = self.buf.len() as u64 >= file_len;
        Ok(())
    }

    /// Drops the connection (if a body is still open) and reports what was read.
    fn finish<T>(mut self, header: T) -> HeaderRead<T> {
        self.body = None;
        HeaderRead {
            header,
            path: self.path.to_string(),
            file_len: self.file_len,
            bytes_received: self.received,
            requests: self.requests,
            range_honoured: self.range_honoured,
        }
    }

    fn format_error(&self, error: FormatError) -> FitError {
        let error = match (error, self.file_len) {
            (FormatError::Truncated { needed }, Some(len)) if needed > len => {
                FormatError::invalid(format!(
                    "the file ({len} bytes) ends before its header does (at least {needed} \
                     bytes are needed)"
                ))
            }
            (error, _) => error,
        };
        FitError::Format {
            path: self.path.to_string(),
            error,
        }
    }
}

/// Reads a safetensors header: the first [`FIRST_REQUEST`] bytes, then (for a larger header)
/// exactly the rest of it.
pub async fn read_safetensors(
    client: &HubClient,
    repo: &RepoId,
    revision: Option<&str>,
    path: &str,
) -> Result<HeaderRead<safetensors::SafetensorsHeader>, FitError> {
    let mut file = RemotePrefix::new(client, repo, revision, path);
    file.ensure(8, FIRST_REQUEST).await?;
    let n = safetensors::header_len(&file.buf, file.file_len).map_err(|e| file.format_error(e))?;
    file.ensure(8 + n, 0).await?;
    match safetensors::parse(&file.buf, file.file_len) {
        Ok(header) => Ok(file.finish(header)),
        Err(e) => Err(file.format_error(e)),
    }
}

/// Reads a GGUF header: the first [`FIRST_REQUEST`] bytes, then more (at least doubling what
/// is held) until the parser has what it needs, up to [`gguf::MAX_HEADER`].
pub async fn read_gguf(
    client: &HubClient,
    repo: &RepoId,
    revision: Option<&str>,
    path: &str,
) -> Result<HeaderRead<gguf::GgufHeader>, FitError> {
    let mut file = RemotePrefix::new(client, repo, revision, path);
    file.ensure(FIRST_REQUEST, FIRST_REQUEST).await?;
    loop {
        match gguf::parse(&file.buf, file.file_len) {
            Ok(header) => return Ok(file.finish(header)),
            Err(FormatError::Truncated { needed }) => {
                let held = file.buf.len() as u64;
                if file.ended || file.file_len.is_some_and(|len| held >= len) {
                    return Err(file.format_error(FormatError::Truncated { needed }));
                }
                let want = needed.max(held * 2).min(gguf::MAX_HEADER.max(needed));
                file.ensure(want, 0).await?;
                if (file.buf.len() as u64) < needed {
                    return Err(file.format_error(FormatError::Truncated { needed }));
                }
            }
            Err(e) => return Err(file.format_error(e)),
        }
    }
}
