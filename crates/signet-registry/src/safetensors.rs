//! A strict reader and a writer for the safetensors format.
//!
//! Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON (a map from tensor name to
//! `{dtype, shape, data_offsets}` plus an optional `__metadata__` map of strings, optionally padded
//! with trailing spaces), then the data section. The reader accepts a file only if the header is
//! within [`MAX_HEADER_LEN`], names are unique, every dtype and key is known, each tensor's byte
//! length equals `product(shape) * dtype size` (checked arithmetic), and the tensors' byte ranges
//! cover the data section exactly: sorted by offset they start at 0, touch without gap or overlap,
//! and end at the last byte. Nothing is copied: views borrow the input.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::RegistryError;

/// Largest accepted JSON header, in bytes.
pub const MAX_HEADER_LEN: u64 = 16 * 1024 * 1024;

/// Most tensors accepted in one file.
pub const MAX_TENSORS: usize = 100_000;

/// Most dimensions accepted for one tensor.
pub const MAX_RANK: usize = 16;

const METADATA_KEY: &str = "__metadata__";

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dtype {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// bfloat16.
    BF16,
    /// 64-bit IEEE float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
    /// 16-bit signed integer.
    I16,
    /// 8-bit signed integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean stored as one byte, 0 or 1.
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The name used in safetensors headers (`"F32"`, `"BOOL"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::I32 => "I32",
            Dtype::I16 => "I16",
            Dtype::I8 => "I8",
            Dtype::U8 => "U8",
            Dtype::Bool => "BOOL",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "F64" => Dtype::F64,
            "I64" => Dtype::I64,
            "I32" => Dtype::I32,
            "I16" => Dtype::I16,
            "I8" => Dtype::I8,
            "U8" => Dtype::U8,
            "BOOL" => Dtype::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A borrowed view of one tensor. `data` is little-endian, row-major, exactly
/// `product(shape) * dtype.size()` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TensorView<'a> {
    /// Element type.
    pub dtype: Dtype,
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// Raw little-endian bytes.
    pub data: &'a [u8],
}

impl fmt::Debug for TensorView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TensorView")
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl TensorView<'_> {
    /// Number of elements (`product(shape)`; cannot overflow for a parsed tensor).
    pub fn numel(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// Decodes an `F32` tensor into a vector; any other dtype is an error.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>, RegistryError> {
        if self.dtype != Dtype::F32 {
            return Err(RegistryError::safetensors(format!(
                "expected F32 data, found {}",
                self.dtype
            )));
        }
        Ok(self
            .data
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(f32::from_le_bytes)
            .collect())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// A parsed safetensors file borrowing its bytes. Obtain one from
/// [`VerifiedBundle::weights`](crate::VerifiedBundle::weights).
#[derive(Clone)]
pub struct SafeTensors<'a> {
    tensors: BTreeMap<String, Entry>,
    metadata: BTreeMap<String, String>,
    data: &'a [u8],
}

impl fmt::Debug for SafeTensors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeTensors")
            .field("tensors", &self.tensors.len())
            .field("data_bytes", &self.data.len())
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<'a> SafeTensors<'a> {
    /// Parses `bytes` strictly (see the module documentation).
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, RegistryError> {
        Self::parse_with_limit(bytes, MAX_HEADER_LEN)
    }

    pub(crate) fn parse_with_limit(
        bytes: &'a [u8],
        header_limit: u64,
    ) -> Result<Self, RegistryError> {
        let (len_bytes, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or_else(|| RegistryError::safetensors("shorter than the 8-byte header length"))?;
        let header_len = u64::from_le_bytes(*len_bytes);
        if header_len > header_limit {
            return Err(RegistryError::TooLarge {
                what: format!("safetensors header ({header_len} bytes)"),
                limit: header_limit,
            });
        }
        let header_len = usize::try_from(header_len)
            .ok()
            .filter(|n| *n <= rest.len())
            .ok_or_else(|| {
                RegistryError::safetensors(format!(
                    "header length {header_len} exceeds the {} bytes that follow it",
                    rest.len()
                ))
            })?;
        let (header, data) = rest
            .split_at_checked(header_len)
            .ok_or_else(|| RegistryError::safetensors("header length out of range"))?;
        if header.first() != Some(&b'{') {
            return Err(RegistryError::safetensors("header does not start with `{`"));
        }
        let raw: RawHeader = serde_json::from_slice(header).map_err(|e| {
            RegistryError::safetensors(format!(
                "header JSON: {}",
                signet_io::escape_controls(&e.to_string())
            ))
        })?;

        let mut tensors = BTreeMap::new();
        let mut ranges = Vec::with_capacity(raw.tensors.len());
        for (name, info) in raw.tensors {
            let dtype = Dtype::from_name(&info.dtype).ok_or_else(|| {
                RegistryError::safetensors(format!(
                    "tensor {name:?}: unknown dtype {:?}",
                    info.dtype
                ))
            })?;
            if info.shape.len() > MAX_RANK {
                return Err(RegistryError::safetensors(format!(
                    "tensor {name:?}: rank {} exceeds {MAX_RANK}",
                    info.shape.len()
                )));
            }
            let expected = info
                .shape
                .iter()
                .try_fold(dtype.size(), |acc, d| acc.checked_mul(*d))
                .ok_or_else(|| {
                    RegistryError::safetensors(format!("tensor {name:?}: size overflows"))
                })?;
            let [start, end] = info.data_offsets;
            let (start, end) = match (usize::try_from(start), usize::try_from(end)) {
                (Ok(s), Ok(e)) if s <= e && e <= data.len() => (s, e),
                _ => {
                    return Err(RegistryError::safetensors(format!(
                        "tensor {name:?}: offsets [{start}, {end}] are outside the {}-byte data section",
                        data.len()
                    )))
                }
            };
            if end - start != expected {
                return Err(RegistryError::safetensors(format!(
                    "tensor {name:?}: {} bytes for shape {:?} of {dtype} (expected {expected})",
                    end - start,
                    info.shape
                )));
            }
            if dtype == Dtype::Bool {
                if let Some(b) = data
                    .get(start..end)
                    .and_then(|d| d.iter().find(|b| **b > 1))
                {
                    return Err(RegistryError::safetensors(format!(
                        "tensor {name:?}: boolean byte {b} is neither 0 nor 1"
                    )));
                }
            }
            ranges.push((start, end, name.clone()));
            tensors.insert(
                name,
                Entry {
                    dtype,
                    shape: info.shape,
                    start,
                    end,
                },
            );
        }
        ranges.sort();
        let mut cursor = 0usize;
        for (start, end, name) in &ranges {
            if *start != cursor {
                return Err(RegistryError::safetensors(format!(
                    "tensor {name:?} starts at {start}, expected {cursor} (gap or overlap)"
                )));
            }
            cursor = *end;
        }
        if cursor != data.len() {
            return Err(RegistryError::safetensors(format!(
                "tensors cover {cursor} bytes but the data section has {} (trailing bytes)",
                data.len()
            )));
        }
        Ok(Self {
            tensors,
            metadata: raw.metadata,
            data,
        })
    }

    /// Tensor names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The tensor called `name`, if present.
    pub fn get(&self, name: &str) -> Option<TensorView<'a>> {
        let e = self.tensors.get(name)?;
        Some(TensorView {
            dtype: e.dtype,
            shape: e.shape.clone(),
            data: self.data.get(e.start..e.end)?,
        })
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the file holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The optional `__metadata__` string map.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
}

/// Serializes tensors into safetensors bytes. Tensors are stored in name order; the header is
/// padded with spaces to a multiple of 8 bytes so the data section is aligned. Names must be
/// non-empty, unique and not `__metadata__`; each data slice must match its shape and dtype.
pub fn write_safetensors(
    tensors: &[(&str, Dtype, &[usize], &[u8])],
) -> Result<Vec<u8>, RegistryError> {
    if tensors.len() > MAX_TENSORS {
        return Err(RegistryError::safetensors(format!(
            "{} tensors exceed the limit of {MAX_TENSORS}",
            tensors.len()
        )));
    }
    let mut sorted: Vec<_> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    let mut prev: Option<&str> = None;
    for (name, dtype, shape, data) in &sorted {
        if name.is_empty() || *name == METADATA_KEY {
            return Err(RegistryError::safetensors(format!(
                "invalid tensor name {name:?}"
            )));
        }
        if prev == Some(*name) {
            return Err(RegistryError::safetensors(format!(
                "duplicate tensor name {name:?}"
            )));
        }
        prev = Some(name);
        if shape.len() > MAX_RANK {
            return Err(RegistryError::safetensors(format!(
                "tensor {name:?}: rank {} exceeds {MAX_RANK}",
                shape.len()
            )));
        }
        let expected = shape
            .iter()
            .try_fold(dtype.size(), |acc, d| acc.checked_mul(*d))
            .ok_or_else(|| {
                RegistryError::safetensors(format!("tensor {name:?}: size overflows"))
            })?;
        if data.len() != expected {
            return Err(RegistryError::safetensors(format!(
                "tensor {name:?}: {} bytes given for shape {shape:?} of {dtype} (expected {expected})",
                data.len()
            )));
        }
        if *dtype == Dtype::Bool && data.iter().any(|b| *b > 1) {
            return Err(RegistryError::safetensors(format!(
                "tensor {name:?}: boolean bytes must be 0 or 1"
            )));
        }
        let end = offset
            .checked_add(data.len())
            .ok_or_else(|| RegistryError::safetensors("total size overflows"))?;
        header.insert(
            (*name).to_owned(),
            serde_json::json!({
                "dtype": dtype.as_str(),
                "shape": shape,
                "data_offsets": [offset, end],
            }),
        );
        offset = end;
    }
    let mut json = serde_json::to_vec(&header).map_err(|e| {
        RegistryError::safetensors(format!(
            "header JSON: {}",
            signet_io::escape_controls(&e.to_string())
        ))
    })?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    if json.len() as u64 > MAX_HEADER_LEN {
        return Err(RegistryError::TooLarge {
            what: "safetensors header".to_owned(),
            limit: MAX_HEADER_LEN,
        });
    }
    let total = 8usize
        .checked_add(json.len())
        .and_then(|n| n.checked_add(offset))
        .ok_or_else(|| RegistryError::safetensors("total size overflows"))?;
    let mut out = Vec::new();
    out.try_reserve_exact(total)
        .map_err(|e| RegistryError::safetensors(format!("cannot allocate {total} bytes: {e}")))?;
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, _, _, data) in &sorted {
        out.extend_from_slice(data);
    }
    Ok(out)
}

// ---- header deserialization: a map visitor that refuses duplicates and unknown keys ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

struct RawHeader {
    tensors: BTreeMap<String, RawInfo>,
    metadata: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of tensor names to tensor descriptions")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
                let mut tensors = BTreeMap::new();
                let mut metadata = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == METADATA_KEY {
                        if metadata.is_some() {
                            return Err(de::Error::custom("duplicate `__metadata__`"));
                        }
                        metadata = Some(map.next_value::<StrictStringMap>()?.0);
                        continue;
                    }
                    if tensors.len() >= MAX_TENSORS {
                        return Err(de::Error::custom(format!(
                            "more than {MAX_TENSORS} tensors"
                        )));
                    }
                    if tensors.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate tensor name {key:?}")));
                    }
                    if key.is_empty() {
                        return Err(de::Error::custom("empty tensor name"));
                    }
                    let info = map.next_value::<RawInfo>()?;
                    tensors.insert(key, info);
                }
                Ok(RawHeader {
                    tensors,
                    metadata: metadata.unwrap_or_default(),
                })
            }
        }
        d.deserialize_map(V)
    }
}

struct StrictStringMap(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for StrictStringMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictStringMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictStringMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        // Consume the value so the error points at the key, then refuse.
                        let _ = map.next_value::<IgnoredAny>()?;
                        return Err(de::Error::custom(format!("duplicate metadata key {key:?}")));
                    }
                    let value = map.next_value::<String>()?;
                    out.insert(key, value);
                }
                Ok(StrictStringMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let b: Vec<u8> = [7i64].iter().flat_map(|v| v.to_le_bytes()).collect();
        write_safetensors(&[
            ("b.bias", Dtype::I64, &[1], &b),
            ("a.weight", Dtype::F32, &[2, 3], &a),
            ("c.flag", Dtype::Bool, &[2], &[0, 1]),
            ("d.empty", Dtype::F16, &[0, 4], &[]),
        ])
        .unwrap()
    }

    /// Builds a file from a raw header string and data section.
    fn raw(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn reason(bytes: &[u8]) -> String {
        match SafeTensors::parse(bytes) {
            Err(RegistryError::SafeTensors { reason }) => reason,
            other => panic!("expected a SafeTensors error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let st = SafeTensors::parse(&bytes).unwrap();
        assert_eq!(st.len(), 4);
        assert_eq!(
            st.names().collect::<Vec<_>>(),
            ["a.weight", "b.bias", "c.flag", "d.empty"]
        );
        let a = st.get("a.weight").unwrap();
        assert_eq!(a.dtype, Dtype::F32);
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.numel(), 6);
        assert_eq!(a.to_f32_vec().unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(st.get("b.bias").unwrap().data, 7i64.to_le_bytes());
        assert!(st.get("b.bias").unwrap().to_f32_vec().is_err());
        assert!(st.get("missing").is_none());
        // Header is padded so that the data section is 8-byte aligned.
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(n % 8, 0);
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample();
        for len in 0..bytes.len() {
            assert!(
                SafeTensors::parse(&bytes[..len]).is_err(),
                "truncation to {len} bytes was accepted"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = sample();
        bytes.push(0);
        assert!(reason(&bytes).contains("trailing"));
    }

    #[test]
    fn overlapping_offsets() {
        let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#;
        assert!(reason(&raw(h, &[0; 6])).contains("gap or overlap"));
        // Two tensors aliasing the same bytes.
        let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
        assert!(reason(&raw(h, &[0; 4])).contains("gap or overlap"));
    }

    #[test]
    fn gap_is_refused() {
        let h = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#;
        assert!(reason(&raw(h, &[0; 4])).contains("gap or overlap"));
    }

    #[test]
    fn out_of_range_offsets() {
        let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
        assert!(reason(&raw(h, &[0; 3])).contains("outside"));
        let h = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#;
        assert!(reason(&raw(h, &[0; 4])).contains("outside"));
        let h = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}}"#;
        assert!(reason(&raw(h, &[0; 1])).contains("outside"));
    }

    #[test]
    fn length_must_match_shape() {
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
        assert!(reason(&raw(h, &[0; 4])).contains("expected 8"));
        let h = r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#;
        assert!(reason(&raw(h, &[0; 4])).contains("overflows"));
    }

    #[test]
    fn header_over_cap() {
        let mut bytes = (MAX_HEADER_LEN + 1).to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        assert!(matches!(
            SafeTensors::parse(&bytes),
            Err(RegistryError::TooLarge {
                limit: MAX_HEADER_LEN,
                ..
            })
        ));
        let bytes = sample();
        assert!(matches!(
            SafeTensors::parse_with_limit(&bytes, 8),
            Err(RegistryError::TooLarge { limit: 8, .. })
        ));
        let bytes = u64::MAX.to_le_bytes();
        assert!(SafeTensors::parse(&bytes).is_err());
    }

    #[test]
    fn header_strictness() {
        let ok = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let st_bytes = raw(ok, &[5]);
        let st = SafeTensors::parse(&st_bytes).unwrap();
        assert_eq!(st.metadata().get("format").map(String::as_str), Some("pt"));
        // Trailing spaces (padding) are fine, anything else after the JSON is not.
        assert!(SafeTensors::parse(&raw(&format!("{ok}   "), &[5])).is_ok());
        for (bad, needle) in [
            (
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}"#,
                "duplicate tensor",
            ),
            (
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}}"#,
                "unknown field",
            ),
            (
                r#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#,
                "unknown dtype",
            ),
            (
                r#"{"__metadata__":{"k":1},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                "header JSON",
            ),
            (
                r#"{"__metadata__":{"k":"v","k":"w"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                "duplicate metadata",
            ),
            (
                r#"{"__metadata__":{},"__metadata__":{},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                "duplicate `__metadata__`",
            ),
            (
                r#"{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
                "header JSON",
            ),
            (
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}x"#,
                "header JSON",
            ),
            (
                r#"{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                "empty tensor name",
            ),
            (
                r#"{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}"#,
                "neither 0 nor 1",
            ),
            (
                r#" {"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                "does not start",
            ),
        ] {
            let r = reason(&raw(bad, &[5]));
            assert!(r.contains(needle), "{bad}: {r}");
        }
    }

    #[test]
    fn writer_refuses_bad_input() {
        let four = [0u8; 4];
        for (tensors, needle) in [
            (
                vec![("a", Dtype::F32, &[2usize][..], &four[..])],
                "expected 8",
            ),
            (
                vec![
                    ("a", Dtype::U8, &[4][..], &four[..]),
                    ("a", Dtype::U8, &[4][..], &four[..]),
                ],
                "duplicate",
            ),
            (
                vec![("", Dtype::U8, &[4][..], &four[..])],
                "invalid tensor name",
            ),
            (
                vec![("__metadata__", Dtype::U8, &[4][..], &four[..])],
                "invalid tensor name",
            ),
            (
                vec![("b", Dtype::Bool, &[4][..], &[0, 1, 2, 0][..])],
                "0 or 1",
            ),
        ] {
            match write_safetensors(&tensors) {
                Err(RegistryError::SafeTensors { reason }) => {
                    assert!(reason.contains(needle), "{reason}")
                }
                other => panic!("expected an error containing {needle:?}, got {other:?}"),
            }
        }
        assert_eq!(write_safetensors(&[]).unwrap().len(), 16);
        assert_eq!(
            SafeTensors::parse(&write_safetensors(&[]).unwrap())
                .unwrap()
                .len(),
            0
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = SafeTensors::parse(&bytes);
        }

        #[test]
        fn arbitrary_headers_never_panic(header in "\\PC{0,200}", data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = SafeTensors::parse(&raw(&header, &data));
        }

        #[test]
        fn any_byte_flip_parses_or_errors(pos in 0usize..1000, val in any::<u8>()) {
            let mut bytes = sample();
            let i = pos % bytes.len();
            bytes[i] = val;
            if let Ok(st) = SafeTensors::parse(&bytes) {
                for name in st.names() {
                    let v = st.get(name).unwrap();
                    prop_assert_eq!(v.data.len(), v.numel() * v.dtype.size());
                }
            }
        }

        #[test]
        fn writer_output_always_parses(shapes in proptest::collection::vec(proptest::collection::vec(0usize..4, 0..3), 0..6)) {
            let names: Vec<String> = (0..shapes.len()).map(|i| format!("t{i}")).collect();
            let datas: Vec<Vec<u8>> = shapes.iter().map(|s| vec![0u8; s.iter().product::<usize>() * 4]).collect();
            let tensors: Vec<_> = names.iter().zip(&shapes).zip(&datas)
                .map(|((n, s), d)| (n.as_str(), Dtype::F32, s.as_slice(), d.as_slice())).collect();
            let bytes = write_safetensors(&tensors).unwrap();
            let st = SafeTensors::parse(&bytes).unwrap();
            prop_assert_eq!(st.len(), shapes.len());
            for (n, s) in names.iter().zip(&shapes) {
                prop_assert_eq!(&st.get(n).unwrap().shape, s);
            }
        }
    }
}
