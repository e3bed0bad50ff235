//! Safetensors checkpoints onto a wgpu device: each tensor read from the mapped file and
//! uploaded as stored (F32, F16 or BF16 matrices; vectors widened to F32, a few KB), one at a
//! time, stopping at the next tensor once the load is cancelled.

use std::path::PathBuf;

use candle_core::DType;
use candle_core::safetensors::MmapedSafetensors;
use hubble_gpu::{Buffer, Gpu, GpuError, Weight, WeightType};

use crate::infer::InferError;

/// An error of the GPU runtime, as inference reports it.
pub fn gpu_error(e: GpuError) -> InferError {
    InferError::Device(e.to_string())
}

/// A checkpoint's tensors, uploaded on request.
pub struct SafetensorsUpload<'a> {
    files: MmapedSafetensors,
    gpu: &'a Gpu,
    /// Prepended to every name (`bert.` in checkpoints with a task head).
    prefix: String,
}

impl<'a> SafetensorsUpload<'a> {
    /// Maps `files` for uploads to `gpu`.
    pub fn open(files: &[PathBuf], gpu: &'a Gpu) -> Result<SafetensorsUpload<'a>, InferError> {
        // SAFETY: the files are not modified while mapped (the cache never rewrites a blob).
        let files = unsafe { MmapedSafetensors::multi(files)? };
        Ok(SafetensorsUpload {
            files,
            gpu,
            prefix: String::new(),
        })
    }

    /// Names are looked up under `prefix` from now on.
    pub fn with_prefix(self, prefix: &str) -> SafetensorsUpload<'a> {
        SafetensorsUpload {
            prefix: prefix.to_string(),
            ..self
        }
    }

    /// Whether the checkpoint has `name` (under the prefix).
    pub fn has(&self, name: &str) -> bool {
        self.files.get(&format!("{}{name}", self.prefix)).is_ok()
    }

    fn view(&self, name: &str) -> Result<(WeightType, Vec<usize>, &[u8]), InferError> {
        if crate::infer::pipeline::load_cancelled() {
            return Err(InferError::Cancelled);
        }
        let full = format!("{}{name}", self.prefix);
        let view = self.files.get(&full)?;
        let ty = match DType::try_from(view.dtype())? {
            DType::F32 => WeightType::F32,
            DType::F16 => WeightType::F16,
            DType::BF16 => WeightType::Bf16,
            other => {
                return Err(gpu_error(GpuError::UnsupportedType(format!(
                    "{full}: {other:?}"
                ))));
            }
        };
        Ok((ty, view.shape().to_vec(), view.data()))
    }

    /// A matrix, `rows × cols` as stored (`out × in` for a linear layer).
    pub fn weight(&self, name: &str) -> Result<Weight, InferError> {
        let (ty, dims, bytes) = self.view(name)?;
        let (rows, cols) = match dims[..] {
            [rows, cols] => (rows, cols),
            [rows, a, b] => (rows, a * b),
            _ => {
                return Err(InferError::Model(format!(
                    "{name} is not a matrix: {dims:?}"
                )));
            }
        };
        self.gpu
            .upload_weight(ty, rows, cols, bytes, name)
            .map_err(gpu_error)
    }

    /// A tensor's values as F32 on the host (vectors, small tables).
    pub fn host_f32(&self, name: &str) -> Result<Vec<f32>, InferError> {
        let (ty, _, bytes) = self.view(name)?;
        let halves = |convert: fn([u8; 2]) -> f32| -> Vec<f32> {
            bytes
                .chunks_exact(2)
                .map(|b| convert([b[0], b[1]]))
                .collect()
        };
        Ok(match ty {
            WeightType::F32 => bytemuck::pod_collect_to_vec(bytes),
            WeightType::F16 => halves(|b| half::f16::from_le_bytes(b).to_f32()),
            _ => halves(|b| half::bf16::from_le_bytes(b).to_f32()),
        })
    }

    /// A vector (norms, biases), as F32.
    pub fn vector(&self, name: &str) -> Result<Buffer, InferError> {
        let values = self.host_f32(name)?;
        self.gpu.upload_f32(&values, name).map_err(gpu_error)
    }

    /// A linear layer: `<name>.weight` and `<name>.bias`.
    pub fn linear(&self, name: &str) -> Result<(Weight, Buffer), InferError> {
        Ok((
            self.weight(&format!("{name}.weight"))?,
            self.vector(&format!("{name}.bias"))?,
        ))
    }

    /// A LayerNorm: `<name>.weight` and `<name>.bias`.
    pub fn norm(&self, name: &str) -> Result<(Buffer, Buffer), InferError> {
        Ok((
            self.vector(&format!("{name}.weight"))?,
            self.vector(&format!("{name}.bias"))?,
        ))
    }
}

/// Records `out = input · Wᵀ + b` for `n` rows (a linear layer with its bias).
pub fn linear(
    pass: &mut hubble_gpu::Pass<'_>,
    (w, b): &(Weight, Buffer),
    input: hubble_gpu::Rows<'_>,
    out: hubble_gpu::Rows<'_>,
    n: usize,
) -> Result<(), GpuError> {
    hubble_gpu::ops::matmul(pass, w, input, out, n)?;
    let bias = hubble_gpu::Rows {
        buffer: b,
        offset: 0,
        stride: 0,
    };
    hubble_gpu::ops::add(pass, out, bias, w.rows(), n)
}
