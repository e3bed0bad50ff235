//! Element types: safetensors dtypes and ggml (GGUF) tensor types, with their storage sizes.

/// Bits per element of a safetensors dtype, or `None` for a dtype this build does not know.
/// The names are the ones the safetensors format writes (`F32`, `BF16`, `F8_E4M3`, …).
pub fn safetensors_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// Whether a safetensors dtype holds floating-point weights (what quantisation replaces).
pub fn safetensors_is_float(dtype: &str) -> bool {
    dtype.starts_with('F') || dtype == "BF16"
}

/// A ggml tensor type: its name and how it is stored (`block` elements in `bytes` bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgmlType {
    /// The type id in GGUF tensor infos.
    pub id: u32,
    /// llama.cpp's name (`Q4_K`, `F16`, …).
    pub name: &'static str,
    /// Elements per block.
    pub block: u64,
    /// Bytes per block.
    pub bytes: u64,
}

impl GgmlType {
    /// Bits per weight (storage, including block scales).
    pub fn bits_per_weight(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.block as f64
    }
}

/// Every ggml type id known to this build (ids 4, 5 were removed from ggml and are rejected).
const GGML_TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (31, "Q4_0_4_4", 32, 18),
    (32, "Q4_0_4_8", 32, 18),
    (33, "Q4_0_8_8", 32, 18),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (36, "IQ4_NL_4_4", 32, 18),
    (37, "IQ4_NL_4_8", 32, 18),
    (38, "IQ4_NL_8_8", 32, 18),
    (39, "MXFP4", 32, 17),
];

/// The ggml type with this id, if known.
pub fn ggml_type(id: u32) -> Option<GgmlType> {
    GGML_TYPES
        .iter()
        .find(|t| t.0 == id)
        .map(|&(id, name, block, bytes)| GgmlType {
            id,
            name,
            block,
            bytes,
        })
}

/// The dtypes and quantisations offered for estimates (`--dtype`, the app's picker), widest
/// first; [`target_bits`] knows each (and a few aliases).
pub const TARGET_DTYPES: &[&str] = &[
    "F32", "F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K",
];

/// [`TARGET_DTYPES`] for an error message: `f32, f16, bf16, …, q2_k`.
pub fn target_list() -> String {
    TARGET_DTYPES
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A storage format the user can pick for an estimate (`--dtype`): bits per weight.
///
/// Float names keep their exact width; ggml quant names use their storage size including scales
/// (`Q4_K_M` is llama.cpp's mix, about 4.85 bits per weight on Llama-style models).
pub fn target_bits(name: &str) -> Option<f64> {
    let upper = name.trim().to_ascii_uppercase();
    Some(match upper.as_str() {
        "F32" | "FP32" | "FLOAT32" => 32.0,
        "F16" | "FP16" | "FLOAT16" | "HALF" => 16.0,
        "BF16" | "BFLOAT16" => 16.0,
        "F8" | "FP8" | "F8_E4M3" | "F8_E5M2" | "INT8" | "I8" => 8.0,
        "Q8_0" => 8.5,
        "Q6_K" => 6.5625,
        "Q5_K_M" => 5.69,
        "Q5_K_S" | "Q5_K" => 5.5,
        "Q5_0" => 5.5,
        "Q5_1" => 6.0,
        "Q4_K_M" => 4.85,
        "Q4_K_S" | "Q4_K" => 4.5,
        "Q4_0" | "IQ4_NL" => 4.5,
        "Q4_1" => 5.0,
        "IQ4_XS" => 4.25,
        "Q3_K_M" => 3.91,
        "Q3_K_S" | "Q3_K" => 3.4375,
        "Q2_K" => 2.625,
        "INT4" | "I4" | "NF4" | "FP4" | "F4" => 4.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_dtypes() {
        assert_eq!(safetensors_bits("F32"), Some(32));
        assert_eq!(safetensors_bits("BF16"), Some(16));
        assert_eq!(safetensors_bits("F8_E4M3"), Some(8));
        assert_eq!(safetensors_bits("F4"), Some(4));
        assert_eq!(safetensors_bits("I64"), Some(64));
        assert_eq!(safetensors_bits("Q4"), None);
        assert!(safetensors_is_float("BF16") && !safetensors_is_float("I64"));
    }

    #[test]
    fn ggml_block_sizes() {
        let q4_1 = ggml_type(3).unwrap();
        assert_eq!((q4_1.name, q4_1.block, q4_1.bytes), ("Q4_1", 32, 20));
        assert_eq!(ggml_type(12).unwrap().bits_per_weight(), 4.5);
        assert_eq!(ggml_type(14).unwrap().bits_per_weight(), 6.5625);
        assert_eq!(ggml_type(8).unwrap().bits_per_weight(), 8.5);
        assert!(ggml_type(4).is_none() && ggml_type(5).is_none() && ggml_type(999).is_none());
        let ids: Vec<u32> = GGML_TYPES.iter().map(|t| t.0).collect();
        let mut sorted = ids.clone();
        sorted.dedup();
        assert_eq!(ids, sorted, "ids are unique and sorted");
    }

    #[test]
    fn targets() {
        assert_eq!(target_bits("q4_k_m"), Some(4.85));
        assert_eq!(target_bits("bf16"), Some(16.0));
        assert_eq!(target_bits("nonsense"), None);
        assert!(TARGET_DTYPES.iter().all(|d| target_bits(d).is_some()));
        assert!(target_list().starts_with("f32, f16, bf16, q8_0"));
    }
}
