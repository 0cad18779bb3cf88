//! What a checkpoint holds once read: a tree of plain values and tensors.

use std::fmt;

use serde::Serialize;

/// A tensor's element type, as the storage class names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum Dtype {
    /// `torch.DoubleStorage`.
    F64,
    /// `torch.FloatStorage`.
    F32,
    /// `torch.HalfStorage`.
    F16,
    /// `torch.BFloat16Storage`.
    BF16,
    /// `torch.LongStorage`.
    I64,
    /// `torch.IntStorage`.
    I32,
    /// `torch.ShortStorage`.
    I16,
    /// `torch.CharStorage`.
    I8,
    /// `torch.ByteStorage` and `torch.UntypedStorage`.
    U8,
    /// `torch.BoolStorage`.
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

    /// The storage class name (`FloatStorage`) for a dtype, and back.
    pub(crate) fn from_storage_class(name: &str) -> Option<Dtype> {
        Some(match name {
            "DoubleStorage" => Dtype::F64,
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" | "UntypedStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Dtype::F64 => "F64",
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I64 => "I64",
            Dtype::I32 => "I32",
            Dtype::I16 => "I16",
            Dtype::I8 => "I8",
            Dtype::U8 => "U8",
            Dtype::Bool => "BOOL",
        };
        f.write_str(s)
    }
}

/// A tensor read from a checkpoint: its element type, shape, and its values as contiguous
/// little-endian bytes in row-major order (strides and storage offsets already applied).
#[derive(Clone, PartialEq)]
pub struct Tensor {
    /// Element type.
    pub dtype: Dtype,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product() * dtype.size()` bytes, little-endian, row-major.
    pub data: Vec<u8>,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Tensor {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values as `f32`, converted from any floating dtype (F64 rounds, F16 and BF16 widen);
    /// `None` for an integer or bool tensor.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        let d = &self.data;
        Some(match self.dtype {
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(le(c)))
                .collect(),
            Dtype::F64 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(le(c)) as f32)
                .collect(),
            Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes(le(c))))
                .collect(),
            Dtype::BF16 => d
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes(le(c))) << 16))
                .collect(),
            _ => return None,
        })
    }
}

/// A chunk of exactly `N` bytes as an array (`chunks_exact` guarantees the length).
fn le<const N: usize>(chunk: &[u8]) -> [u8; N] {
    <[u8; N]>::try_from(chunk).unwrap_or([0; N])
}

/// IEEE 754 half precision to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalize.
            let mut e = 127 - 15 + 1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// A value from a checkpoint's pickle: plain data, tensors, and the few stand-ins below.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `None`.
    None,
    /// A bool.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A wider integer, little-endian two's complement (the legacy format's magic number is one).
    BigInt(Vec<u8>),
    /// A float (numpy float scalars become this too).
    Float(f64),
    /// A string.
    Str(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A set or frozenset.
    Set(Vec<Value>),
    /// A dict, `OrderedDict` or `defaultdict`, in insertion order (a repeated key keeps its
    /// first position and its last value, as in Python).
    Dict(Vec<(Value, Value)>),
    /// A numpy dtype, by its type string (`f8`, `i4`).
    NumpyDtype(String),
    /// A tensor.
    Tensor(Tensor),
    /// A part of the checkpoint that was recognized and deliberately not read (optimizer,
    /// scheduler and scaler state): what it was, and how many tensors it held.
    Skipped {
        /// The top-level key.
        key: String,
        /// Tensors inside it, not materialized.
        tensors: usize,
    },
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one (a bool is not).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value under a string key, if this is a dict that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the variant, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Set(_) => "set",
            Value::Dict(_) => "dict",
            Value::NumpyDtype(_) => "numpy dtype",
            Value::Tensor(_) => "tensor",
            Value::Skipped { .. } => "skipped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floating_tensors_widen_to_f32_and_integers_do_not() {
        let t = |dtype, data: Vec<u8>| Tensor {
            dtype,
            shape: vec![data.len() / dtype.size()],
            data,
        };
        assert_eq!(
            t(Dtype::F64, 1.5f64.to_le_bytes().to_vec()).to_f32(),
            Some(vec![1.5])
        );
        assert_eq!(t(Dtype::BF16, vec![0xc0, 0x3f]).to_f32(), Some(vec![1.5]));
        assert_eq!(t(Dtype::F16, vec![0x00, 0x3e]).to_f32(), Some(vec![1.5]));
        assert_eq!(
            t(Dtype::F32, 1.5f32.to_le_bytes().to_vec()).to_f32(),
            Some(vec![1.5])
        );
        assert_eq!(t(Dtype::I32, vec![0; 4]).to_f32(), None);
        assert_eq!(Value::Int(3).as_f64(), Some(3.0));
        assert_eq!(Value::Bool(true).as_i64(), None);
    }

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
    }
}
