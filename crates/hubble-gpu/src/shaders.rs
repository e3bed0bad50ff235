//! The kernels' WGSL (`shaders/compute/`), assembled per weight type and cache type: a kernel
//! that reads weights is the byte readers, the type's `block_values4`, then the kernel.

use crate::weight::WeightType;

macro_rules! wgsl {
    ($name:literal) => {
        include_str!(concat!("../../../shaders/compute/", $name, ".wgsl"))
    };
}

/// How a KV cache holds its keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvType {
    /// Half precision, two values per word (llama.cpp's default; half of F32's memory).
    F16,
    /// Full precision (the exact path the parity tests hold to PyTorch).
    F32,
}

impl KvType {
    /// Bytes per cached value.
    pub fn bytes(self) -> u64 {
        match self {
            KvType::F16 => 2,
            KvType::F32 => 4,
        }
    }

    fn source(self) -> &'static str {
        match self {
            KvType::F16 => wgsl!("kv_f16"),
            KvType::F32 => wgsl!("kv_f32"),
        }
    }
}

/// One compute kernel (one pipeline per distinct value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    Matmul(WeightType),
    MatmulTiled(WeightType),
    MatmulSubgroup(WeightType),
    GetRows(WeightType),
    RmsNorm,
    LayerNorm,
    Unary,
    Im2col,
    Rope,
    KvStore(KvType),
    AttnScores(KvType),
    Softmax,
    AttnValues(KvType),
    Gated,
    Add,
    Argmax,
}

impl Kernel {
    /// The whole module's source.
    pub(crate) fn source(self) -> String {
        match self {
            Kernel::Matmul(ty) => with_weights(
                ty,
                concat!(wgsl!("matmul_bindings"), wgsl!("reduce"), wgsl!("matmul")),
            ),
            Kernel::MatmulTiled(ty) => {
                with_weights(ty, concat!(wgsl!("matmul_bindings"), wgsl!("matmul_tiled")))
            }
            // wgpu's naga takes the subgroup builtins without WGSL's `enable subgroups;` (it
            // rejects the directive) once the device has the feature.
            Kernel::MatmulSubgroup(ty) => with_weights(
                ty,
                concat!(wgsl!("matmul_bindings"), wgsl!("matmul_subgroup")),
            ),
            Kernel::GetRows(ty) => with_weights(ty, wgsl!("get_rows")),
            Kernel::RmsNorm => concat!(wgsl!("reduce"), wgsl!("rms_norm")).to_string(),
            Kernel::LayerNorm => concat!(wgsl!("reduce"), wgsl!("layer_norm")).to_string(),
            Kernel::Unary => wgsl!("unary").to_string(),
            Kernel::Im2col => wgsl!("im2col").to_string(),
            Kernel::Rope => wgsl!("rope").to_string(),
            Kernel::KvStore(kv) => format!("{}\n{}", kv.source(), wgsl!("kv_store")),
            Kernel::AttnScores(kv) => format!("{}\n{}", kv.source(), wgsl!("attn_scores")),
            Kernel::Softmax => concat!(wgsl!("reduce"), wgsl!("softmax")).to_string(),
            Kernel::AttnValues(kv) => format!("{}\n{}", kv.source(), wgsl!("attn_values")),
            Kernel::Gated => wgsl!("gated").to_string(),
            Kernel::Add => wgsl!("add").to_string(),
            Kernel::Argmax => wgsl!("argmax").to_string(),
        }
    }
}

fn with_weights(ty: WeightType, kernel: &str) -> String {
    let dequant = match ty {
        WeightType::F32 => wgsl!("dequant_f32"),
        WeightType::F16 => wgsl!("dequant_f16"),
        WeightType::Bf16 => wgsl!("dequant_bf16"),
        WeightType::Q4_0 => wgsl!("dequant_q4_0"),
        WeightType::Q4_1 => wgsl!("dequant_q4_1"),
        WeightType::Q5_0 => wgsl!("dequant_q5_0"),
        WeightType::Q5_1 => wgsl!("dequant_q5_1"),
        WeightType::Q8_0 => wgsl!("dequant_q8_0"),
        WeightType::Q4K => concat!(wgsl!("kquant_scales"), wgsl!("dequant_q4_k")),
        WeightType::Q5K => concat!(wgsl!("kquant_scales"), wgsl!("dequant_q5_k")),
        WeightType::Q6K => wgsl!("dequant_q6_k"),
    };
    format!("{}\n{dequant}\n{kernel}", wgsl!("bytes"))
}
