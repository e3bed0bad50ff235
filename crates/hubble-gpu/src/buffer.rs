//! A GPU storage buffer that counts itself in its device's memory use while it lives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A storage buffer (activations, caches, one chunk of a weight).
#[derive(Debug)]
pub struct Buffer {
    pub(crate) inner: wgpu::Buffer,
    bytes: u64,
    in_use: Arc<AtomicU64>,
}

impl Buffer {
    pub(crate) fn new(inner: wgpu::Buffer, in_use: Arc<AtomicU64>) -> Buffer {
        let bytes = inner.size();
        in_use.fetch_add(bytes, Ordering::Relaxed);
        Buffer {
            inner,
            bytes,
            in_use,
        }
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // Not destroyed here: a pass recorded but not yet submitted may still hold it; wgpu frees
        // it when the last reference goes.
        self.in_use.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}
