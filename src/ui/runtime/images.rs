//! Card images: an egui bytes loader for `http(s)://` URIs that fetches through the Hub client
//! on the worker runtime (same timeouts, token only to the endpoint), so the UI thread never
//! waits. Decoding is egui_extras' image-crate loader (PNG, JPEG, GIF, WebP). SVG (badges) is not
//! rasterised — it would cost a large dependency — and is shown as nothing, its alt text on hover.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;

use eframe::egui::{
    self,
    load::{Bytes, BytesLoadResult, BytesLoader, BytesPoll, LoadError},
};

use crate::ui::runtime::worker::SharedClient;

/// Largest image accepted.
const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

type Entry = Poll<Result<Arc<[u8]>, String>>;

/// Loads `http(s)://` images through the Hub client.
pub struct HubBytesLoader {
    client: SharedClient,
    runtime: tokio::runtime::Handle,
    cache: Arc<Mutex<HashMap<String, Entry>>>,
}

impl HubBytesLoader {
    /// Loader id.
    pub const ID: &'static str = "hubble::HubBytesLoader";

    /// A loader using `client` on `runtime`.
    pub fn new(client: SharedClient, runtime: tokio::runtime::Handle) -> HubBytesLoader {
        HubBytesLoader {
            client,
            runtime,
            cache: Arc::default(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 1×1 transparent PNG, standing in for images that can't be drawn (SVG).
fn blank_png() -> Arc<[u8]> {
    static BLANK: OnceLock<Arc<[u8]>> = OnceLock::new();
    BLANK
        .get_or_init(|| {
            let mut png = Vec::new();
            let image = image::RgbaImage::new(1, 1);
            let _ = image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
            png.into()
        })
        .clone()
}

fn is_svg(uri: &str, bytes: &[u8]) -> bool {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    if path.to_ascii_lowercase().ends_with(".svg") {
        return true;
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_ascii_lowercase();
    let head = head.trim_start();
    head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg"))
}

impl BytesLoader for HubBytesLoader {
    fn id(&self) -> &str {
        Self::ID
    }

    fn load(&self, ctx: &egui::Context, uri: &str) -> BytesLoadResult {
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(LoadError::NotSupported);
        }
        let ready = |bytes: Arc<[u8]>| BytesPoll::Ready {
            size: None,
            bytes: Bytes::Shared(bytes),
            mime: None,
        };
        let mut cache = lock(&self.cache);
        match cache.get(uri) {
            Some(Poll::Ready(Ok(bytes))) => return Ok(ready(bytes.clone())),
            Some(Poll::Ready(Err(error))) => return Err(LoadError::Loading(error.clone())),
            Some(Poll::Pending) => return Ok(BytesPoll::Pending { size: None }),
            None => {}
        }
        let url = match url::Url::parse(uri) {
            Ok(url) => url,
            Err(e) => {
                let error = format!("bad image URL {uri}: {e}");
                cache.insert(uri.to_string(), Poll::Ready(Err(error.clone())));
                return Err(LoadError::Loading(error));
            }
        };
        if is_svg(uri, &[]) {
            let blank = blank_png();
            cache.insert(uri.to_string(), Poll::Ready(Ok(blank.clone())));
            return Ok(ready(blank));
        }
        cache.insert(uri.to_string(), Poll::Pending);
        drop(cache);
        let client = lock(&self.client).clone();
        let store = self.cache.clone();
        let ctx = ctx.clone();
        let uri = uri.to_string();
        self.runtime.spawn(async move {
            let result = match client {
                Ok(client) => client
                    .fetch_url(&url, MAX_IMAGE_BYTES)
                    .await
                    .map_err(|e| e.to_string()),
                Err(message) => Err(message),
            };
            let result = result.map(|bytes| {
                if is_svg(&uri, &bytes) {
                    blank_png()
                } else {
                    Arc::from(bytes)
                }
            });
            lock(&store).insert(uri, Poll::Ready(result));
            ctx.request_repaint();
        });
        Ok(BytesPoll::Pending { size: None })
    }

    fn forget(&self, uri: &str) {
        lock(&self.cache).remove(uri);
    }

    fn forget_all(&self) {
        lock(&self.cache).clear();
    }

    fn byte_size(&self) -> usize {
        lock(&self.cache)
            .values()
            .map(|entry| match entry {
                Poll::Ready(Ok(bytes)) => bytes.len(),
                _ => 0,
            })
            .sum()
    }

    fn has_pending(&self) -> bool {
        lock(&self.cache).values().any(Poll::is_pending)
    }
}
