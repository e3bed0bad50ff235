//! A forward pass: kernels recorded in order into one command buffer, their parameters packed
//! into one uniform buffer, submitted once; then only what the host asks for is copied back.

use std::sync::Arc;

use crate::buffer::Buffer;
use crate::error::{GpuError, Result};
use crate::gpu::Gpu;
use crate::shaders::Kernel;

struct Dispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    params_at: u64,
    params_len: u64,
    buffers: Vec<wgpu::Buffer>,
    groups: [u32; 3],
}

/// Kernels waiting to be submitted together.
pub struct Pass<'g> {
    gpu: &'g Gpu,
    params: Vec<u8>,
    dispatches: Vec<Dispatch>,
}

impl<'g> Pass<'g> {
    /// An empty pass on `gpu`.
    pub fn new(gpu: &'g Gpu) -> Pass<'g> {
        Pass {
            gpu,
            params: Vec::new(),
            dispatches: Vec::new(),
        }
    }

    /// The device it records for.
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    /// How many kernels it holds.
    pub fn len(&self) -> usize {
        self.dispatches.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }

    /// Records `kernel` over `groups` workgroups with its parameter words (binding 0) and its
    /// buffers (bindings 1..).
    pub(crate) fn dispatch(
        &mut self,
        kernel: Kernel,
        params: &[u32],
        buffers: &[&Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(());
        }
        let pipeline = self.gpu.pipeline(kernel)?;
        let params_at = (self.params.len() as u64).next_multiple_of(self.gpu.uniform_align);
        self.params.resize(params_at as usize, 0);
        self.params
            .extend(params.iter().flat_map(|word| word.to_le_bytes()));
        let params_len = (params.len() as u64 * 4).next_multiple_of(16);
        self.params.resize((params_at + params_len) as usize, 0);
        self.dispatches.push(Dispatch {
            pipeline,
            params_at,
            params_len,
            buffers: buffers.iter().map(|b| b.inner.clone()).collect(),
            groups,
        });
        Ok(())
    }

    /// Runs everything recorded, without waiting.
    pub fn submit(self) -> Result<()> {
        let gpu = self.gpu;
        let encoder = self.record()?;
        gpu.queue.submit([encoder.finish()]);
        gpu.check()
    }

    /// Runs everything recorded and returns `count` words from element `offset` of `buffer`.
    pub fn submit_and_read_u32(
        self,
        buffer: &Buffer,
        offset: usize,
        count: usize,
    ) -> Result<Vec<u32>> {
        Ok(bytemuck::cast_slice(&self.submit_and_read(buffer, offset, count)?).to_vec())
    }

    /// Runs everything recorded and returns `count` floats from element `offset` of `buffer`.
    pub fn submit_and_read_f32(
        self,
        buffer: &Buffer,
        offset: usize,
        count: usize,
    ) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&self.submit_and_read(buffer, offset, count)?).to_vec())
    }

    fn submit_and_read(self, buffer: &Buffer, offset: usize, count: usize) -> Result<Vec<u8>> {
        let gpu = self.gpu;
        if (offset + count) as u64 * 4 > buffer.bytes() {
            return Err(GpuError::Shape(format!(
                "reading {count} words at {offset} of a {}-byte buffer",
                buffer.bytes()
            )));
        }
        let mut encoder = self.record()?;
        let staging = gpu.stage(&mut encoder, buffer, offset as u64 * 4, count as u64 * 4);
        gpu.queue.submit([encoder.finish()]);
        gpu.map(&staging)
    }

    fn record(self) -> Result<wgpu::CommandEncoder> {
        let gpu = self.gpu;
        let device = &gpu.device;
        let uniforms = (!self.params.is_empty()).then(|| {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kernel parameters"),
                size: self.params.len() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            gpu.queue.write_buffer(&buffer, 0, &self.params);
            buffer
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for dispatch in &self.dispatches {
                let Some(uniforms) = &uniforms else { break };
                let mut entries = vec![wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: uniforms,
                        offset: dispatch.params_at,
                        size: wgpu::BufferSize::new(dispatch.params_len),
                    }),
                }];
                for (i, buffer) in dispatch.buffers.iter().enumerate() {
                    entries.push(wgpu::BindGroupEntry {
                        binding: i as u32 + 1,
                        resource: buffer.as_entire_binding(),
                    });
                }
                let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &dispatch.pipeline.get_bind_group_layout(0),
                    entries: &entries,
                });
                pass.set_pipeline(&dispatch.pipeline);
                pass.set_bind_group(0, &group, &[]);
                let [x, y, z] = dispatch.groups;
                pass.dispatch_workgroups(x, y, z);
            }
        }
        gpu.check()?;
        Ok(encoder)
    }
}
