//! The GGUF header (versions 2 and 3, little-endian): magic `GGUF`, version, tensor count,
//! metadata count, the metadata key/values, the tensor infos (name, dims, ggml type, offset),
//! then padding to `general.alignment` (default 32) and the tensor data.
//!
//! [`parse`] works on a prefix of the file and answers [`FormatError::Truncated`] with the
//! number of bytes it needs when the prefix ends early, so a remote reader can fetch more and
//! retry. Every count and length read from the file is checked against the bytes actually
//! present before anything is allocated, and against [`MAX_HEADER`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::dtype::{GgmlType, ggml_type};
use super::format_error::FormatError;

/// Largest header (metadata + tensor infos) accepted: 64 MiB. Big vocabularies take ~10 MB.
pub const MAX_HEADER: u64 = 64 * 1024 * 1024;

/// Most tensors accepted (real files have a few thousand at most).
pub const MAX_TENSORS: u64 = 1 << 20;

/// Most dimensions per tensor (ggml has 4).
const MAX_DIMS: u32 = 8;

/// Arrays up to this length are kept in [`GgufValue::Array`]; longer ones (vocabularies) only
/// keep their length.
const KEEP_ARRAY: u64 = 4096;

/// How deep arrays of arrays may nest.
const MAX_DEPTH: u32 = 3;

const MAGIC: &[u8; 4] = b"GGUF";

/// A metadata value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GgufValue {
    /// Any unsigned integer type.
    Uint(u64),
    /// Any signed integer type.
    Int(i64),
    /// `f32` or `f64`.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string (invalid UTF-8 replaced).
    String(String),
    /// An array: its length always, its values when it is short (≤ 4096 entries).
    Array {
        /// Number of entries in the file.
        len: u64,
        /// The entries, or empty when the array is long.
        values: Vec<GgufValue>,
    },
}

impl GgufValue {
    /// The value as an unsigned integer (non-negative integers only).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::Uint(n) => Some(n),
            GgufValue::Int(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// The value as a float (integers convert).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::Float(x) => Some(x),
            GgufValue::Uint(n) => Some(n as f64),
            GgufValue::Int(n) => Some(n as f64),
            _ => None,
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One tensor info.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GgufTensor {
    /// Its name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Its dimensions, innermost first (ggml order).
    pub dims: Vec<u64>,
    /// Its ggml type.
    #[serde(serialize_with = "type_name")]
    pub ggml_type: GgmlType,
    /// Offset of its data from the start of the data region.
    pub offset: u64,
    /// Number of elements.
    pub elements: u64,
    /// Bytes of data.
    pub bytes: u64,
}

fn type_name<S: serde::Serializer>(t: &GgmlType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.name)
}

/// Parameters and bytes of one ggml type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TypeTotals {
    /// Elements stored in this type.
    pub parameters: u64,
    /// Bytes they take.
    pub bytes: u64,
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GgufHeader {
    /// Format version (2 or 3).
    pub version: u32,
    /// Every metadata key/value (long arrays without their values).
    pub metadata: BTreeMap<String, GgufValue>,
    /// The tensor infos, in file order.
    pub tensors: Vec<GgufTensor>,
    /// `general.alignment` (default 32).
    pub alignment: u64,
    /// Offset of the data region from the start of the file.
    pub data_start: u64,
}

impl GgufHeader {
    /// `general.architecture` (`llama`, `qwen2`, …).
    pub fn architecture(&self) -> Option<&str> {
        self.metadata
            .get("general.architecture")
            .and_then(GgufValue::as_str)
    }

    /// A metadata value by key.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.get(key)
    }

    /// `{architecture}.{key}` as an unsigned integer (e.g. `block_count`).
    pub fn arch_u64(&self, key: &str) -> Option<u64> {
        let arch = self.architecture()?;
        self.metadata
            .get(&format!("{arch}.{key}"))
            .and_then(GgufValue::as_u64)
    }

    /// `{architecture}.{key}` (may be an array, e.g. per-layer head counts).
    pub fn arch_value(&self, key: &str) -> Option<&GgufValue> {
        let arch = self.architecture()?;
        self.metadata.get(&format!("{arch}.{key}"))
    }

    /// Total elements over every tensor.
    pub fn parameters(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.elements))
    }

    /// Bytes of tensor data (padding between tensors excluded).
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.bytes))
    }

    /// Parameters and bytes per ggml type name.
    pub fn by_type(&self) -> BTreeMap<String, TypeTotals> {
        let mut totals: BTreeMap<String, TypeTotals> = BTreeMap::new();
        for tensor in &self.tensors {
            let entry = totals.entry(tensor.ggml_type.name.to_string()).or_default();
            entry.parameters = entry.parameters.saturating_add(tensor.elements);
            entry.bytes = entry.bytes.saturating_add(tensor.bytes);
        }
        totals
    }

    /// `general.file_type` as llama.cpp names it (`Q4_K_M`, …), when present and known.
    pub fn file_type(&self) -> Option<&'static str> {
        let id = self.get("general.file_type")?.as_u64()?;
        FILE_TYPES
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, name)| *name)
    }
}

/// llama.cpp's `llama_ftype` names.
const FILE_TYPES: &[(u64, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (7, "Q8_0"),
    (8, "Q5_0"),
    (9, "Q5_1"),
    (10, "Q2_K"),
    (11, "Q3_K_S"),
    (12, "Q3_K_M"),
    (13, "Q3_K_L"),
    (14, "Q4_K_S"),
    (15, "Q4_K_M"),
    (16, "Q5_K_S"),
    (17, "Q5_K_M"),
    (18, "Q6_K"),
    (19, "IQ2_XXS"),
    (20, "IQ2_XS"),
    (21, "Q2_K_S"),
    (22, "IQ3_XS"),
    (23, "IQ3_XXS"),
    (24, "IQ1_S"),
    (25, "IQ4_NL"),
    (26, "IQ3_S"),
    (27, "IQ3_M"),
    (28, "IQ2_S"),
    (29, "IQ2_M"),
    (30, "IQ4_XS"),
    (31, "IQ1_M"),
    (32, "BF16"),
    (36, "TQ1_0"),
    (37, "TQ2_0"),
    (38, "MXFP4_MOE"),
];

/// A bounds-checked little-endian cursor over a prefix of the file.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Takes `n` bytes, or reports how many bytes of the file are needed.
    fn take(&mut self, n: u64) -> Result<&'a [u8], FormatError> {
        let end = (self.pos as u64).saturating_add(n);
        if end > MAX_HEADER {
            return Err(FormatError::invalid(format!(
                "the GGUF header is larger than the {MAX_HEADER}-byte limit (a length or count \
                 in it is corrupt, or the file is unusual)"
            )));
        }
        if end > self.bytes.len() as u64 {
            return Err(FormatError::Truncated { needed: end });
        }
        let slice = &self.bytes[self.pos..end as usize];
        self.pos = end as usize;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String, FormatError> {
        let len = self.u64()?;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    /// Skips a string without copying it.
    fn skip_string(&mut self) -> Result<(), FormatError> {
        let len = self.u64()?;
        self.take(len).map(|_| ())
    }

    fn value(&mut self, kind: u32, keep: bool, depth: u32) -> Result<GgufValue, FormatError> {
        Ok(match kind {
            0 => GgufValue::Uint(u64::from(self.array::<1>()?[0])),
            1 => GgufValue::Int(i64::from(i8::from_le_bytes(self.array()?))),
            2 => GgufValue::Uint(u64::from(u16::from_le_bytes(self.array()?))),
            3 => GgufValue::Int(i64::from(i16::from_le_bytes(self.array()?))),
            4 => GgufValue::Uint(u64::from(self.u32()?)),
            5 => GgufValue::Int(i64::from(i32::from_le_bytes(self.array()?))),
            6 => GgufValue::Float(f64::from(f32::from_le_bytes(self.array()?))),
            7 => GgufValue::Bool(self.array::<1>()?[0] != 0),
            8 if keep => GgufValue::String(self.string()?),
            8 => {
                self.skip_string()?;
                GgufValue::String(String::new())
            }
            9 => self.array_value(keep, depth)?,
            10 => GgufValue::Uint(self.u64()?),
            11 => GgufValue::Int(i64::from_le_bytes(self.array()?)),
            12 => GgufValue::Float(f64::from_le_bytes(self.array()?)),
            other => {
                return Err(FormatError::invalid(format!(
                    "unknown GGUF value type {other} at byte {}",
                    self.pos
                )));
            }
        })
    }

    fn array_value(&mut self, keep: bool, depth: u32) -> Result<GgufValue, FormatError> {
        if depth >= MAX_DEPTH {
            return Err(FormatError::invalid("GGUF arrays nest too deeply"));
        }
        let kind = self.u32()?;
        let len = self.u64()?;
        // Fixed-size element types: check (and ask for) the whole array at once.
        if let Some(size) = fixed_size(kind) {
            let start = self.pos;
            self.take(len.saturating_mul(size))?;
            self.pos = start;
        }
        let keep = keep && len <= KEEP_ARRAY;
        let mut values = Vec::new();
        for _ in 0..len {
            let value = self.value(kind, keep, depth + 1)?;
            if keep {
                values.push(value);
            }
        }
        Ok(GgufValue::Array { len, values })
    }
}

/// Size of a fixed-size GGUF value type.
fn fixed_size(kind: u32) -> Option<u64> {
    Some(match kind {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

/// Parses the header from a prefix of a GGUF file. With `file_len`, tensor data is checked to
/// lie inside the file.
pub fn parse(prefix: &[u8], file_len: Option<u64>) -> Result<GgufHeader, FormatError> {
    let mut cur = Cursor {
        bytes: prefix,
        pos: 0,
    };
    let magic = cur.take(4)?;
    if magic != MAGIC {
        return Err(FormatError::invalid(format!(
            "not a GGUF file: it starts with {magic:02x?}, not \"GGUF\""
        )));
    }
    let version = cur.u32()?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(FormatError::invalid(
                "GGUF version 1 is not supported (convert the file with a newer llama.cpp)",
            ));
        }
        v if v.swap_bytes() <= 3 => {
            return Err(FormatError::invalid(
                "big-endian GGUF files are not supported",
            ));
        }
        v => {
            return Err(FormatError::invalid(format!(
                "unsupported GGUF version {v} (2 and 3 are known)"
            )));
        }
    }
    let tensor_count = cur.u64()?;
    let kv_count = cur.u64()?;
    if tensor_count > MAX_TENSORS {
        return Err(FormatError::invalid(format!(
            "the GGUF header claims {tensor_count} tensors (at most {MAX_TENSORS} are accepted)"
        )));
    }
    // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes.
    if kv_count > MAX_HEADER / 13 {
        return Err(FormatError::invalid(format!(
            "the GGUF header claims {kv_count} metadata entries, more than can fit in it"
        )));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = cur.string()?;
        let kind = cur.u32()?;
        let value = cur.value(kind, true, 0)?;
        metadata.insert(key, value);
    }
    let alignment = match metadata.get("general.alignment") {
        None => 32,
        Some(value) => match value.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
            _ => {
                return Err(FormatError::invalid(format!(
                    "general.alignment is {value:?}, not a power of two"
                )));
            }
        },
    };
    let mut tensors = Vec::new();
    for _ in 0..tensor_count {
        tensors.push(tensor_info(&mut cur)?);
    }
    let data_start = (cur.pos as u64).next_multiple_of(alignment);
    let header = GgufHeader {
        version,
        metadata,
        tensors,
        alignment,
        data_start,
    };
    check_layout(&header, file_len)?;
    Ok(header)
}

fn tensor_info(cur: &mut Cursor<'_>) -> Result<GgufTensor, FormatError> {
    let name = cur.string()?;
    let n_dims = cur.u32()?;
    if n_dims > MAX_DIMS {
        return Err(FormatError::invalid(format!(
            "tensor {name:?} has {n_dims} dimensions (at most {MAX_DIMS})"
        )));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(cur.u64()?);
    }
    let type_id = cur.u32()?;
    let offset = cur.u64()?;
    let ggml_type = ggml_type(type_id).ok_or_else(|| {
        FormatError::invalid(format!("tensor {name:?} has unknown ggml type {type_id}"))
    })?;
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| FormatError::invalid(format!("tensor {name:?}: its shape overflows")))?;
    let row = dims.first().copied().unwrap_or(1);
    if row % ggml_type.block != 0 {
        return Err(FormatError::invalid(format!(
            "tensor {name:?}: its rows of {row} are not a multiple of the {} block size {}",
            ggml_type.name, ggml_type.block
        )));
    }
    let bytes = (elements / ggml_type.block)
        .checked_mul(ggml_type.bytes)
        .ok_or_else(|| FormatError::invalid(format!("tensor {name:?}: its size overflows")))?;
    Ok(GgufTensor {
        name,
        dims,
        ggml_type,
        offset,
        elements,
        bytes,
    })
}

/// Checks that tensors are aligned, do not overlap, and (with `file_len`) lie in the file.
fn check_layout(header: &GgufHeader, file_len: Option<u64>) -> Result<(), FormatError> {
    let mut spans: Vec<(u64, u64, &str)> = Vec::with_capacity(header.tensors.len());
    for t in &header.tensors {
        if t.offset % header.alignment != 0 {
            return Err(FormatError::invalid(format!(
                "tensor {:?} starts at {}, not a multiple of the alignment {}",
                t.name, t.offset, header.alignment
            )));
        }
        let end = t.offset.checked_add(t.bytes).ok_or_else(|| {
            FormatError::invalid(format!("tensor {:?}: its offset overflows", t.name))
        })?;
        if let Some(len) = file_len {
            let data_len = len.saturating_sub(header.data_start);
            if end > data_len {
                return Err(FormatError::invalid(format!(
                    "tensor {:?} ends at {end}, past the end of the data region ({data_len} \
                     bytes): the file is truncated or corrupt",
                    t.name
                )));
            }
        }
        spans.push((t.offset, end, &t.name));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(FormatError::invalid(format!(
                "tensors {:?} and {:?} overlap in the data region",
                pair[0].2, pair[1].2
            )));
        }
    }
    Ok(())
}

/// Writes a GGUF v3 header for tests and fixtures: metadata as `(key, value)` (strings, `u32`
/// integers, `f32` floats), tensors as `(name, dims, ggml type id)` laid out one after another.
/// Returns the header bytes (padded to 32) and the data length.
pub fn build_header(
    metadata: &[(&str, GgufValue)],
    tensors: &[(&str, &[u64], u32)],
) -> (Vec<u8>, u64) {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        string(&mut out, key);
        match value {
            GgufValue::String(s) => {
                out.extend_from_slice(&8u32.to_le_bytes());
                string(&mut out, s);
            }
            GgufValue::Float(x) => {
                out.extend_from_slice(&6u32.to_le_bytes());
                out.extend_from_slice(&(*x as f32).to_le_bytes());
            }
            GgufValue::Bool(b) => {
                out.extend_from_slice(&7u32.to_le_bytes());
                out.push(u8::from(*b));
            }
            other => {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&(other.as_u64().unwrap_or(0) as u32).to_le_bytes());
            }
        }
    }
    let mut offset = 0u64;
    for (name, dims, type_id) in tensors {
        string(&mut out, name);
        out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in *dims {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&type_id.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        let t = ggml_type(*type_id).expect("known ggml type");
        let elements: u64 = dims.iter().product();
        offset = (offset + elements / t.block * t.bytes).next_multiple_of(32);
    }
    while !out.len().is_multiple_of(32) {
        out.push(0);
    }
    (out, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> (Vec<u8>, u64) {
        build_header(
            &[
                ("general.architecture", GgufValue::String("llama".into())),
                ("llama.block_count", GgufValue::Uint(2)),
                ("llama.rope.freq_base", GgufValue::Float(10000.0)),
            ],
            &[
                ("token_embd.weight", &[64, 10], 8),
                ("blk.0.attn_q.weight", &[256, 4], 12),
                ("output_norm.weight", &[64], 0),
            ],
        )
    }

    #[test]
    fn parses_a_small_header() {
        let (mut bytes, data) = tiny();
        let header_len = bytes.len() as u64;
        bytes.resize((header_len + data) as usize, 0);
        let h = parse(&bytes, Some(bytes.len() as u64)).unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.arch_u64("block_count"), Some(2));
        assert_eq!(h.data_start, header_len);
        assert_eq!(h.parameters(), 640 + 1024 + 64);
        assert_eq!(h.tensor_bytes(), 20 * 34 + 4 * 144 + 64 * 4);
        assert_eq!(h.by_type()["Q4_K"].bytes, 576);
        // Any strict prefix asks for more bytes; the header alone parses without a length.
        for cut in [0, 3, 10, 30, header_len as usize - 40] {
            assert!(matches!(
                parse(&bytes[..cut], None),
                Err(FormatError::Truncated { needed }) if needed > cut as u64
            ));
        }
        assert!(parse(&bytes[..header_len as usize], None).is_ok());
        // A file cut inside its data region is caught with its length.
        let err = parse(&bytes, Some(header_len + 10))
            .unwrap_err()
            .to_string();
        assert!(err.contains("past the end of the data region"), "{err}");
    }

    #[test]
    fn corrupt_headers_give_clear_errors() {
        let (good, _) = tiny();
        let err = |bytes: &[u8]| parse(bytes, None).unwrap_err().to_string();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(err(&bad).contains("not a GGUF file"));
        let mut v1 = good.clone();
        v1[4..8].copy_from_slice(&1u32.to_le_bytes());
        assert!(err(&v1).contains("version 1"));
        let mut v9 = good.clone();
        v9[4..8].copy_from_slice(&9u32.to_le_bytes());
        assert!(err(&v9).contains("version 9"));
        let mut be = good.clone();
        be[4..8].copy_from_slice(&3u32.to_be_bytes());
        assert!(err(&be).contains("big-endian"));
        let mut many = good.clone();
        many[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(err(&many).contains("tensors"));
        let mut kvs = good.clone();
        kvs[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(err(&kvs).contains("metadata entries"));
        // The first key's length, made huge: refused by the limit, not allocated.
        let mut long = good.clone();
        long[24..32].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        assert!(err(&long).contains("limit"));
        let mut type_ = good.clone();
        let at = 24 + 8 + "general.architecture".len();
        type_[at..at + 4].copy_from_slice(&77u32.to_le_bytes());
        assert!(err(&type_).contains("unknown GGUF value type 77"));
    }

    #[test]
    fn huge_arrays_are_bounded() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.push(b'k');
        bytes.extend_from_slice(&9u32.to_le_bytes());
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(
            parse(&bytes, None)
                .unwrap_err()
                .to_string()
                .contains("limit")
        );
        // An array of strings claiming 2^40 entries asks for bytes, one entry at a time.
        let at = bytes.len() - 12;
        bytes[at..at + 4].copy_from_slice(&8u32.to_le_bytes());
        assert!(matches!(
            parse(&bytes, None),
            Err(FormatError::Truncated { .. })
        ));
    }
}
