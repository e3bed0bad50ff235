//! Weight matrices on the GPU as their files store them: quantised blocks are uploaded as they
//! are (no F32 copy anywhere) and dequantised in the kernels' registers. A matrix larger than
//! the adapter's storage-binding limit is split into chunks of whole rows.

use crate::buffer::Buffer;

/// The element and block types the kernels read (GGUF's, plus BF16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightType {
    /// 32-bit floats.
    F32,
    /// IEEE half floats.
    F16,
    /// bfloat16.
    Bf16,
    /// 4-bit, 32 per block, scale.
    Q4_0,
    /// 4-bit, 32 per block, scale and minimum.
    Q4_1,
    /// 5-bit, 32 per block, scale.
    Q5_0,
    /// 5-bit, 32 per block, scale and minimum.
    Q5_1,
    /// 8-bit, 32 per block, scale.
    Q8_0,
    /// 4-bit K-quant, 256 per super-block.
    Q4K,
    /// 5-bit K-quant, 256 per super-block.
    Q5K,
    /// 6-bit K-quant, 256 per super-block.
    Q6K,
}

impl WeightType {
    /// From GGML's type number (the `type` of a GGUF tensor); `None` for types with no kernel.
    pub fn from_ggml(id: u32) -> Option<WeightType> {
        Some(match id {
            0 => WeightType::F32,
            1 => WeightType::F16,
            2 => WeightType::Q4_0,
            3 => WeightType::Q4_1,
            6 => WeightType::Q5_0,
            7 => WeightType::Q5_1,
            8 => WeightType::Q8_0,
            12 => WeightType::Q4K,
            13 => WeightType::Q5K,
            14 => WeightType::Q6K,
            30 => WeightType::Bf16,
            _ => return None,
        })
    }

    /// Values per block (4 for the float types, which the kernels read four at a time).
    pub fn block_values(self) -> usize {
        match self {
            WeightType::F32 | WeightType::F16 | WeightType::Bf16 => 4,
            WeightType::Q4_0
            | WeightType::Q4_1
            | WeightType::Q5_0
            | WeightType::Q5_1
            | WeightType::Q8_0 => 32,
            WeightType::Q4K | WeightType::Q5K | WeightType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            WeightType::F32 => 16,
            WeightType::F16 | WeightType::Bf16 => 8,
            WeightType::Q4_0 => 18,
            WeightType::Q4_1 => 20,
            WeightType::Q5_0 => 22,
            WeightType::Q5_1 => 24,
            WeightType::Q8_0 => 34,
            WeightType::Q4K => 144,
            WeightType::Q5K => 176,
            WeightType::Q6K => 210,
        }
    }

    /// Bytes of one row of `cols` values.
    pub fn row_bytes(self, cols: usize) -> usize {
        cols / self.block_values() * self.block_bytes()
    }
}

/// Rows `first_row..first_row + rows` of a matrix, in one buffer.
pub(crate) struct Chunk {
    pub(crate) buffer: Buffer,
    pub(crate) first_row: usize,
    pub(crate) rows: usize,
}

/// A `rows × cols` weight matrix on the GPU (`y = W x` has `rows` outputs).
pub struct Weight {
    pub(crate) ty: WeightType,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) chunks: Vec<Chunk>,
}

impl Weight {
    /// Its type.
    pub fn weight_type(&self) -> WeightType {
        self.ty
    }

    /// Output features.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input features.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// How many buffers it was split into (1 unless it exceeds the binding limit).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}
