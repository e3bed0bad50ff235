//! The safetensors header: `u64` little-endian length `N`, then `N` bytes of JSON mapping tensor
//! names to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data region
//! that follows the header), plus an optional `__metadata__` map of strings.
//!
//! Parsing is pure and bounded: the JSON is at most [`MAX_HEADER`] bytes, every size is checked
//! with overflow-free arithmetic, and nothing is allocated from a number read in the file.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::dtype::safetensors_bits;
use super::format_error::FormatError;

/// Largest JSON header accepted (25 MB; real headers are a few hundred KB at most).
pub const MAX_HEADER: u64 = 25_000_000;

/// One tensor of a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    /// Its name (`model.layers.0.self_attn.q_proj.weight`).
    pub name: String,
    /// Its dtype as written (`F32`, `BF16`, …).
    pub dtype: String,
    /// Its shape.
    pub shape: Vec<u64>,
    /// Number of elements (product of the shape; 1 for a scalar).
    pub elements: u64,
    /// Byte range in the data region.
    pub data_offsets: (u64, u64),
}

/// Parameters and bytes of one dtype.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DtypeTotals {
    /// Elements of this dtype.
    pub parameters: u64,
    /// Bytes they take in the file.
    pub bytes: u64,
}

/// A parsed safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetensorsHeader {
    /// `N`, the length of the JSON header; the data region starts at `8 + N`.
    pub header_len: u64,
    /// The tensors, in the order of their data offsets.
    pub tensors: Vec<TensorInfo>,
    /// The `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

impl SafetensorsHeader {
    /// Offset of the data region in the file.
    pub fn data_start(&self) -> u64 {
        8 + self.header_len
    }

    /// Total elements over every tensor.
    pub fn parameters(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.elements))
    }

    /// Bytes of tensor data.
    pub fn data_bytes(&self) -> u64 {
        self.tensors.iter().fold(0u64, |acc, t| {
            acc.saturating_add(t.data_offsets.1 - t.data_offsets.0)
        })
    }

    /// Parameters and bytes per dtype.
    pub fn by_dtype(&self) -> BTreeMap<String, DtypeTotals> {
        let mut totals: BTreeMap<String, DtypeTotals> = BTreeMap::new();
        for tensor in &self.tensors {
            let entry = totals.entry(tensor.dtype.clone()).or_default();
            entry.parameters = entry.parameters.saturating_add(tensor.elements);
            entry.bytes = entry
                .bytes
                .saturating_add(tensor.data_offsets.1 - tensor.data_offsets.0);
        }
        totals
    }
}

/// Reads `N` from the first 8 bytes and checks it against the limits and the file length.
pub fn header_len(prefix: &[u8], file_len: Option<u64>) -> Result<u64, FormatError> {
    let Some(first) = prefix.get(..8) else {
        return Err(FormatError::Truncated { needed: 8 });
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(first);
    let n = u64::from_le_bytes(word);
    if n < 2 {
        return Err(FormatError::invalid(format!(
            "not a safetensors file: its header length is {n} bytes"
        )));
    }
    if n > MAX_HEADER {
        return Err(FormatError::invalid(format!(
            "not a safetensors file, or an unsupported one: its header claims {n} bytes, more \
             than the {MAX_HEADER}-byte limit"
        )));
    }
    if let Some(len) = file_len
        && n + 8 > len
    {
        return Err(FormatError::invalid(format!(
            "the header length ({n} bytes) is larger than the file ({len} bytes)"
        )));
    }
    Ok(n)
}

/// Parses a header from the start of a file: `prefix` must hold at least `8 + N` bytes (else
/// [`FormatError::Truncated`] says how many). With `file_len`, tensor offsets are checked
/// against the data region's length.
pub fn parse(prefix: &[u8], file_len: Option<u64>) -> Result<SafetensorsHeader, FormatError> {
    let n = header_len(prefix, file_len)?;
    let end = 8 + n as usize;
    let Some(json) = prefix.get(8..end) else {
        return Err(FormatError::Truncated { needed: 8 + n });
    };
    parse_json(json, file_len.map(|len| len - 8 - n)).map(|(tensors, metadata)| SafetensorsHeader {
        header_len: n,
        tensors,
        metadata,
    })
}

type Parsed = (Vec<TensorInfo>, BTreeMap<String, String>);

/// Parses the JSON header; `data_len` is the length of the data region, when known.
fn parse_json(json: &[u8], data_len: Option<u64>) -> Result<Parsed, FormatError> {
    if json.first() != Some(&b'{') {
        return Err(FormatError::invalid(
            "not a safetensors file: the header does not start with `{`",
        ));
    }
    let map: serde_json::Map<String, Value> = serde_json::from_slice(json).map_err(|e| {
        FormatError::invalid(format!("the safetensors header is not valid JSON: {e}"))
    })?;
    let mut tensors = Vec::new();
    let mut metadata = BTreeMap::new();
    for (name, value) in map {
        if name == "__metadata__" {
            let Value::Object(entries) = value else {
                return Err(FormatError::invalid("`__metadata__` is not an object"));
            };
            for (key, value) in entries {
                let Value::String(text) = value else {
                    return Err(FormatError::invalid(format!(
                        "`__metadata__.{key}` is not a string"
                    )));
                };
                metadata.insert(key, text);
            }
            continue;
        }
        tensors.push(tensor(name, &value, data_len)?);
    }
    tensors.sort_by_key(|t| t.data_offsets);
    for pair in tensors.windows(2) {
        if pair[1].data_offsets.0 < pair[0].data_offsets.1 {
            return Err(FormatError::invalid(format!(
                "tensors {:?} and {:?} overlap in the data region",
                pair[0].name, pair[1].name
            )));
        }
    }
    Ok((tensors, metadata))
}

fn tensor(name: String, value: &Value, data_len: Option<u64>) -> Result<TensorInfo, FormatError> {
    let bad = |what: &str| FormatError::invalid(format!("tensor {name:?}: {what}"));
    let dtype = value
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no `dtype` string"))?;
    let bits = safetensors_bits(dtype).ok_or_else(|| {
        bad(&format!(
            "unknown dtype {dtype:?} (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, \
             F16, BF16, I32, U32, F32, I64, U64, F64, C64, F4, F6_E2M3, F6_E3M2)"
        ))
    })?;
    let shape: Vec<u64> = value
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `shape` array"))?
        .iter()
        .map(|d| d.as_u64().ok_or_else(|| bad("a dimension is not a count")))
        .collect::<Result<_, _>>()?;
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad("its shape overflows"))?;
    let offsets = value
        .get("data_offsets")
        .and_then(Value::as_array)
        .filter(|o| o.len() == 2)
        .ok_or_else(|| bad("no `data_offsets: [begin, end]`"))?;
    let (Some(begin), Some(end)) = (offsets[0].as_u64(), offsets[1].as_u64()) else {
        return Err(bad("`data_offsets` are not counts"));
    };
    if end < begin {
        return Err(bad("`data_offsets` end before they begin"));
    }
    if let Some(len) = data_len
        && end > len
    {
        return Err(bad(&format!(
            "its data ends at {end}, past the end of the data region ({len} bytes)"
        )));
    }
    let expected_bits = elements
        .checked_mul(bits)
        .ok_or_else(|| bad("its size overflows"))?;
    if expected_bits != (end - begin).saturating_mul(8) {
        return Err(bad(&format!(
            "{elements} {dtype} elements need {} bytes but `data_offsets` span {}",
            expected_bits.div_ceil(8),
            end - begin
        )));
    }
    Ok(TensorInfo {
        dtype: dtype.to_string(),
        name,
        shape,
        elements,
        data_offsets: (begin, end),
    })
}

/// Builds a safetensors header (length word + JSON padded to 8 bytes) for tensors given as
/// `(name, dtype, shape)`, laid out one after another. For tests and fixtures.
pub fn build_header(tensors: &[(&str, &str, &[u64])]) -> (Vec<u8>, u64) {
    let mut map = serde_json::Map::new();
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let elements: u64 = shape.iter().product();
        let bytes = (elements * safetensors_bits(dtype).unwrap_or(8)).div_ceil(8);
        map.insert(
            name.to_string(),
            serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes] }),
        );
        offset += bytes;
    }
    map.insert("__metadata__".into(), serde_json::json!({ "format": "pt" }));
    let mut json = Value::Object(map).to_string().into_bytes();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    (out, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str, data: usize) -> Vec<u8> {
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(json.as_bytes());
        out.extend(std::iter::repeat_n(0u8, data));
        out
    }

    #[test]
    fn parses_a_small_file() {
        let (header, data) = build_header(&[
            ("a", "F32", &[2, 3]),
            ("b", "BF16", &[4]),
            ("ids", "I64", &[1, 2]),
        ]);
        let mut bytes = header.clone();
        bytes.extend(std::iter::repeat_n(0u8, data as usize));
        let parsed = parse(&bytes, Some(bytes.len() as u64)).unwrap();
        assert_eq!(parsed.parameters(), 6 + 4 + 2);
        assert_eq!(parsed.data_bytes(), 24 + 8 + 16);
        assert_eq!(parsed.data_start(), header.len() as u64);
        let by = parsed.by_dtype();
        assert_eq!(
            by["BF16"],
            DtypeTotals {
                parameters: 4,
                bytes: 8
            }
        );
        assert_eq!(parsed.metadata["format"], "pt");
        // Without the data region the header still parses when the file length is unknown.
        assert_eq!(parse(&header, None).unwrap(), parsed);
    }

    #[test]
    fn scalars_and_empty_tensors() {
        let json = r#"{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F16","shape":[0,5],"data_offsets":[4,4]}}"#;
        let parsed = parse(&file(json, 4), None).unwrap();
        assert_eq!(parsed.parameters(), 1);
    }

    #[test]
    fn corrupt_inputs_give_clear_errors() {
        let err = |bytes: &[u8], len: Option<u64>| parse(bytes, len).unwrap_err().to_string();
        assert!(err(&[1, 2, 3], None).contains("at least 8 bytes"));
        let mut huge = 1_000_000u64.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(err(&huge, Some(10)).contains("larger than the file"));
        assert_eq!(
            parse(&huge, None).unwrap_err(),
            FormatError::Truncated { needed: 1_000_008 }
        );
        assert!(err(&u64::MAX.to_le_bytes(), None).contains("limit"));
        let truncated = file(r#"{"a":{"dtype":"F32","sha"#, 0);
        assert!(err(&truncated, None).contains("not valid JSON"));
        let unknown = file(
            r#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#,
            1,
        );
        assert!(err(&unknown, None).contains("unknown dtype \"Q7\""));
        let wrong = file(
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            8,
        );
        assert!(err(&wrong, None).contains("need 12 bytes"));
        let past = file(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            4,
        );
        let len = past.len() as u64;
        assert!(err(&past, Some(len)).contains("past the end"));
        let overflow = file(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#,
            8,
        );
        assert!(err(&overflow, None).contains("overflows"));
        let overlap = file(
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
            6,
        );
        assert!(err(&overlap, None).contains("overlap"));
        assert!(err(&file("[1,2]", 0), None).contains("does not start"));
        assert!(err(&file(r#"{"__metadata__":[1]}"#, 0), None).contains("not an object"));
    }
}
