//! One adapter's device and queue, opened for compute: its own device (not the window's), so
//! the UI's frames and a model's passes are scheduled side by side by the driver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::adapters::{self, AdapterSummary, Selector};
use crate::buffer::Buffer;
use crate::error::{GpuError, Result};
use crate::shaders::Kernel;
use crate::weight::{Chunk, Weight, WeightType};

/// The smallest storage binding the kernels accept (WebGPU's default is 128 MiB).
const MIN_BINDING_BYTES: u64 = 16 << 20;

/// A device and queue for compute, with its compiled kernels.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    summary: AdapterSummary,
    pipelines: Mutex<HashMap<Kernel, Arc<wgpu::ComputePipeline>>>,
    /// The first error the device reported outside an error scope (validation, loss).
    failure: Arc<Mutex<Option<String>>>,
    in_use: Arc<AtomicU64>,
    pub(crate) uniform_align: u64,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.summary.name)
            .finish_non_exhaustive()
    }
}

impl Gpu {
    /// Opens the adapter `selector` picks, with every limit the adapter offers.
    pub fn open(selector: &Selector) -> Result<Gpu> {
        let (adapter, summary) = adapters::open(selector)?;
        let limits = adapter.limits();
        if limits.max_storage_buffer_binding_size < MIN_BINDING_BYTES
            || limits.max_storage_buffers_per_shader_stage < 4
            || limits.max_compute_workgroup_size_x < 256
            || limits.max_compute_invocations_per_workgroup < 256
        {
            return Err(GpuError::Unsuitable {
                adapter: summary.name,
                why: format!(
                    "it binds {} MiB of storage ({} buffers) and runs {} threads per \
                     workgroup; the kernels need 16 MiB, 4 and 256",
                    limits.max_storage_buffer_binding_size >> 20,
                    limits.max_storage_buffers_per_shader_stage,
                    limits.max_compute_invocations_per_workgroup
                ),
            });
        }
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("hubble compute"),
            // Subgroups where the adapter has them (the products' sums); none else is needed.
            required_features: adapter.features() & wgpu::Features::SUBGROUP,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| {
                GpuError::Open {
                    adapter: summary.name.clone(),
                    why: e.to_string(),
                }
            })?;
        let failure = Arc::new(Mutex::new(None));
        let on_error = Arc::clone(&failure);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            on_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(error.to_string());
        }));
        let on_lost = Arc::clone(&failure);
        device.set_device_lost_callback(move |reason, message| {
            on_lost
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(format!("device lost ({reason:?}): {message}"));
        });
        Ok(Gpu {
            uniform_align: u64::from(limits.min_uniform_buffer_offset_alignment),
            device,
            queue,
            summary,
            pipelines: Mutex::new(HashMap::new()),
            failure,
            in_use: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The adapter it runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    /// Splits weights uploaded from now on at `bytes` per buffer, below the adapter's own
    /// binding limit (tests of the split path; drivers that report more than they bind).
    pub fn limit_binding(&mut self, bytes: u64) {
        self.summary.max_binding_bytes = self.summary.max_binding_bytes.min(bytes.max(4));
    }

    /// Destroys the device, as a driver reset or an unplugged GPU would: every later call
    /// fails with [`GpuError::Lost`] (the tests of that path use it).
    pub fn lose(&self) {
        self.device.destroy();
    }

    /// Whether kernels may use subgroup operations (the adapter has them and they are on).
    pub fn subgroups(&self) -> bool {
        self.summary.subgroups
    }

    /// Turns subgroup kernels off, so the portable ones run (tests of both paths).
    pub fn disable_subgroups(&mut self) {
        self.summary.subgroups = false;
    }

    /// Bytes of buffers alive on the device (weights, caches, activations).
    pub fn memory_in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// An error the device reported since it opened, if any: once lost or invalid, every later
    /// call fails with it.
    pub fn check(&self) -> Result<()> {
        match self
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(message) if message.contains("lost") => Err(GpuError::Lost(message.clone())),
            Some(message) if message.to_ascii_lowercase().contains("out of memory") => {
                Err(GpuError::OutOfMemory(message.clone()))
            }
            Some(message) => Err(GpuError::Lost(message.clone())),
            None => Ok(()),
        }
    }

    /// A zeroed storage buffer of `bytes` (rounded up to whole words).
    pub fn buffer(&self, bytes: u64, label: &str) -> Result<Buffer> {
        let size = bytes.max(4).next_multiple_of(4);
        if size > self.summary.max_buffer_bytes {
            return Err(GpuError::OutOfMemory(format!(
                "{label} needs {} MiB in one buffer; {} allows {} MiB",
                size >> 20,
                self.summary.name,
                self.summary.max_buffer_bytes >> 20
            )));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let inner = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(GpuError::OutOfMemory(format!("{label}: {error}")));
        }
        Ok(Buffer::new(inner, Arc::clone(&self.in_use)))
    }

    /// A buffer holding `bytes` (padded to whole words).
    pub fn upload(&self, bytes: &[u8], label: &str) -> Result<Buffer> {
        let buffer = self.buffer(bytes.len() as u64, label)?;
        self.write(&buffer, 0, bytes);
        Ok(buffer)
    }

    /// A buffer holding `values`.
    pub fn upload_f32(&self, values: &[f32], label: &str) -> Result<Buffer> {
        self.upload(bytemuck::cast_slice(values), label)
    }

    /// Writes `bytes` at byte `offset` of `buffer`, before the next submission runs.
    pub fn write(&self, buffer: &Buffer, offset: u64, bytes: &[u8]) {
        let whole = bytes.len() / 4 * 4;
        if whole > 0 {
            self.queue
                .write_buffer(&buffer.inner, offset, &bytes[..whole]);
        }
        if whole < bytes.len() {
            let mut tail = [0u8; 4];
            tail[..bytes.len() - whole].copy_from_slice(&bytes[whole..]);
            self.queue
                .write_buffer(&buffer.inner, offset + whole as u64, &tail);
        }
    }

    /// Writes `values` at element `offset` of an F32 buffer.
    pub fn write_f32(&self, buffer: &Buffer, offset: usize, values: &[f32]) {
        self.write(buffer, offset as u64 * 4, bytemuck::cast_slice(values));
    }

    /// Uploads a `rows × cols` matrix of type `ty` stored as `bytes` (a GGUF tensor's data),
    /// split by rows where it exceeds the binding limit.
    pub fn upload_weight(
        &self,
        ty: WeightType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
        label: &str,
    ) -> Result<Weight> {
        let row_bytes = ty.row_bytes(cols);
        if !cols.is_multiple_of(ty.block_values()) || bytes.len() != rows * row_bytes {
            return Err(GpuError::Shape(format!(
                "{label}: {rows} × {cols} {ty:?} is {} bytes, not {}",
                rows * row_bytes,
                bytes.len()
            )));
        }
        let rows_per_chunk = (self.summary.max_binding_bytes as usize / row_bytes.max(1)).max(1);
        let mut chunks = Vec::new();
        for first_row in (0..rows.max(1)).step_by(rows_per_chunk) {
            let chunk_rows = rows_per_chunk.min(rows - first_row);
            let data = &bytes[first_row * row_bytes..(first_row + chunk_rows) * row_bytes];
            chunks.push(Chunk {
                buffer: self.upload(data, label)?,
                first_row,
                rows: chunk_rows,
            });
            // Each tensor's staging memory is handed to the driver before the next one's.
            self.queue.submit([]);
        }
        self.check()?;
        Ok(Weight {
            ty,
            rows,
            cols,
            chunks,
        })
    }

    /// `count` F32 values from element `offset` of `buffer`, after all submitted work.
    pub fn read_f32(&self, buffer: &Buffer, offset: usize, count: usize) -> Result<Vec<f32>> {
        let mut encoder = self.device.create_command_encoder(&Default::default());
        let staging = self.stage(&mut encoder, buffer, offset as u64 * 4, count as u64 * 4);
        self.queue.submit([encoder.finish()]);
        Ok(bytemuck::cast_slice(&self.map(&staging)?).to_vec())
    }

    /// Records a copy of `bytes` at `offset` of `buffer` into a new mappable buffer.
    pub(crate) fn stage(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        buffer: &Buffer,
        offset: u64,
        bytes: u64,
    ) -> wgpu::Buffer {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read back"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_buffer_to_buffer(&buffer.inner, offset, &staging, 0, bytes);
        staging
    }

    /// Waits for `staging`'s copy and returns its bytes.
    pub(crate) fn map(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (sender, receiver) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Lost(e.to_string()))?;
        self.check()?;
        receiver
            .recv()
            .map_err(|_| GpuError::Lost("a read-back was dropped".into()))?
            .map_err(|e| GpuError::Lost(e.to_string()))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| GpuError::Lost(e.to_string()))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// The kernel's pipeline, compiled on first use.
    pub(crate) fn pipeline(&self, kernel: Kernel) -> Result<Arc<wgpu::ComputePipeline>> {
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pipeline) = pipelines.get(&kernel) {
            return Ok(Arc::clone(pipeline));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&format!("{kernel:?}")),
                source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&format!("{kernel:?}")),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Unsuitable {
                adapter: self.summary.name.clone(),
                why: format!("the {kernel:?} kernel did not compile: {error}"),
            });
        }
        let pipeline = Arc::new(pipeline);
        pipelines.insert(kernel, Arc::clone(&pipeline));
        Ok(pipeline)
    }
}

impl Gpu {
    /// The device's measured copy bandwidth in bytes per second (reads plus writes of a
    /// buffer-to-buffer copy of `bytes`, the best of a few): the ceiling a memory-bound decode
    /// step is measured against.
    pub fn copy_bandwidth(&self, bytes: u64) -> Result<f64> {
        let bytes = bytes
            .min(self.summary.max_buffer_bytes / 2)
            .next_multiple_of(4);
        let from = self.buffer(bytes, "bandwidth source")?;
        let to = self.buffer(bytes, "bandwidth target")?;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let mut encoder = self.device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&from.inner, 0, &to.inner, 0, bytes);
            let start = std::time::Instant::now();
            self.queue.submit([encoder.finish()]);
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Lost(e.to_string()))?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        self.check()?;
        Ok(2.0 * bytes as f64 / best)
    }
}
