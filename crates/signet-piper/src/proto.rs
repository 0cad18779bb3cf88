//! A minimal, strict protobuf wire-format reader.
//!
//! It decodes one message level at a time: [`Reader::next_field`] yields `(field number, value)`
//! pairs and the caller decides which fields to interpret, so unknown fields are skipped without
//! being looked at. Every length is checked against the bytes that remain, varints are at most ten
//! bytes, deprecated groups and invalid wire types are refused, and nested messages are opened
//! through [`Reader::nested`], which enforces [`MAX_DEPTH`]. Length-delimited values borrow the
//! input; nothing is copied.

use crate::error::PiperError;

/// Deepest message nesting the ONNX decoder will open.
pub const MAX_DEPTH: u32 = 8;

/// One decoded field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2 (sub-message, string, bytes or packed repeated scalars).
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// A cursor over one message's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    depth: u32,
    /// Which message is being read, for error messages.
    what: &'static str,
}

fn malformed(what: &'static str, reason: impl Into<String>) -> PiperError {
    PiperError::MalformedOnnx {
        context: what,
        reason: reason.into(),
    }
}

impl<'a> Reader<'a> {
    /// A reader for a top-level message.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self {
            buf,
            depth: 0,
            what,
        }
    }

    /// A reader for a sub-message held in `bytes`, one level deeper than `self`.
    pub(crate) fn nested(&self, bytes: &'a [u8], what: &'static str) -> Result<Self, PiperError> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(malformed(what, format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(Self {
            buf: bytes,
            depth,
            what,
        })
    }

    /// Which message this reader decodes.
    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, PiperError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3)
            .ok()
            .filter(|f| *f != 0 && *f < (1 << 29))
            .ok_or_else(|| malformed(self.what, format!("invalid field number in key {key}")))?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take_array::<8>()?)),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|l| *l <= self.buf.len())
                    .ok_or_else(|| {
                        malformed(
                            self.what,
                            format!(
                                "field {field}: length {len} exceeds the {} bytes left",
                                self.buf.len()
                            ),
                        )
                    })?;
                let (bytes, rest) = self.buf.split_at(len);
                self.buf = rest;
                Value::Bytes(bytes)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take_array::<4>()?)),
            3 | 4 => {
                return Err(malformed(
                    self.what,
                    format!("field {field}: deprecated group encoding"),
                ))
            }
            w => {
                return Err(malformed(
                    self.what,
                    format!("field {field}: invalid wire type {w}"),
                ))
            }
        };
        Ok(Some((field, value)))
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], PiperError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or_else(|| malformed(self.what, "truncated fixed-width value"))?;
        self.buf = rest;
        Ok(*head)
    }

    fn varint(&mut self) -> Result<u64, PiperError> {
        let (value, used) = decode_varint(self.buf)
            .ok_or_else(|| malformed(self.what, "truncated or overlong varint"))?;
        self.buf = self.buf.get(used..).unwrap_or_default();
        Ok(value)
    }
}

/// Decodes one varint from the start of `buf`: `(value, bytes used)`, or `None` if it is
/// truncated, longer than ten bytes, or overflows 64 bits.
pub(crate) fn decode_varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in buf.iter().take(10).enumerate() {
        let low = u64::from(byte & 0x7f);
        if i == 9 && low > 1 {
            return None;
        }
        value |= low << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

impl<'a> Value<'a> {
    /// The value as a varint, or an error naming `field` of message `what`.
    pub(crate) fn varint(self, what: &'static str, field: &str) -> Result<u64, PiperError> {
        match self {
            Value::Varint(v) => Ok(v),
            _ => Err(malformed(what, format!("field `{field}` is not a varint"))),
        }
    }

    /// The value as length-delimited bytes.
    pub(crate) fn bytes(self, what: &'static str, field: &str) -> Result<&'a [u8], PiperError> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(malformed(
                what,
                format!("field `{field}` is not length-delimited"),
            )),
        }
    }

    /// The value as a UTF-8 string.
    pub(crate) fn string(self, what: &'static str, field: &str) -> Result<&'a str, PiperError> {
        std::str::from_utf8(self.bytes(what, field)?)
            .map_err(|_| malformed(what, format!("field `{field}` is not UTF-8")))
    }

    /// Appends the value of a repeated int64 field, packed or not.
    pub(crate) fn push_int64s(
        self,
        out: &mut Vec<i64>,
        limit: usize,
        what: &'static str,
        field: &str,
    ) -> Result<(), PiperError> {
        let too_many = || {
            malformed(
                what,
                format!("field `{field}` has more than {limit} values"),
            )
        };
        match self {
            // Two's complement, as protobuf encodes int64.
            Value::Varint(v) => {
                if out.len() >= limit {
                    return Err(too_many());
                }
                out.push(v as i64);
            }
            Value::Bytes(mut b) => {
                while !b.is_empty() {
                    let (v, used) = decode_varint(b).ok_or_else(|| {
                        malformed(what, format!("field `{field}`: bad packed varint"))
                    })?;
                    if out.len() >= limit {
                        return Err(too_many());
                    }
                    out.push(v as i64);
                    b = b.get(used..).unwrap_or_default();
                }
            }
            _ => return Err(malformed(what, format!("field `{field}` is not int64"))),
        }
        Ok(())
    }

    /// Appends the value of a repeated float field, packed or not.
    pub(crate) fn push_floats(
        self,
        out: &mut Vec<f32>,
        limit: usize,
        what: &'static str,
        field: &str,
    ) -> Result<(), PiperError> {
        let too_many = || {
            malformed(
                what,
                format!("field `{field}` has more than {limit} values"),
            )
        };
        match self {
            Value::Fixed32(v) => {
                if out.len() >= limit {
                    return Err(too_many());
                }
                out.push(f32::from_bits(v));
            }
            Value::Bytes(b) => {
                if b.len() % 4 != 0 {
                    return Err(malformed(
                        what,
                        format!("field `{field}`: packed floats not a multiple of 4 bytes"),
                    ));
                }
                if out.len().saturating_add(b.len() / 4) > limit {
                    return Err(too_many());
                }
                out.extend(
                    b.chunks_exact(4)
                        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                        .map(f32::from_le_bytes),
                );
            }
            _ => return Err(malformed(what, format!("field `{field}` is not float"))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints() {
        assert_eq!(decode_varint(&[0]), Some((0, 1)));
        assert_eq!(decode_varint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Some((u64::MAX, 10))
        );
        // Overflow in the tenth byte, an eleventh byte, truncation.
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            None
        );
        assert_eq!(decode_varint(&[0x80; 11]), None);
        assert_eq!(decode_varint(&[0x80]), None);
        assert_eq!(decode_varint(&[]), None);
    }

    #[test]
    fn fields_and_errors() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed32, field 4 fixed64
        let msg = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let mut r = Reader::new(&msg, "test");
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(150))));
        assert_eq!(r.next_field().unwrap(), Some((2, Value::Bytes(b"hi"))));
        assert_eq!(r.next_field().unwrap(), Some((3, Value::Fixed32(1))));
        assert_eq!(r.next_field().unwrap(), Some((4, Value::Fixed64(2))));
        assert_eq!(r.next_field().unwrap(), None);
        for len in 0..msg.len() {
            let mut r = Reader::new(&msg[..len], "test");
            let mut n = 0;
            let ok = loop {
                match r.next_field() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break true,
                    Err(_) => break false,
                }
            };
            // Cuts on field boundaries are valid shorter messages; all others fail.
            let boundary = [0, 3, 7, 12].contains(&len);
            assert_eq!(ok, boundary, "len {len} ({n} fields)");
        }
        for bad in [
            &[0x0b][..],
            &[0x0c],
            &[0x0e],
            &[0x0f],
            &[0x00, 0x00],
            &[0x12, 0x05, 1],
        ] {
            assert!(Reader::new(bad, "test").next_field().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut r = Reader::new(&[], "test");
        for _ in 0..MAX_DEPTH {
            r = r.nested(&[], "test").unwrap();
        }
        assert!(r.nested(&[], "test").is_err());
    }

    #[test]
    fn packed_values() {
        let mut ints = Vec::new();
        Value::Bytes(&[
            1, 0x96, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ])
        .push_int64s(&mut ints, 10, "t", "dims")
        .unwrap();
        assert_eq!(ints, [1, 150, -1]);
        assert!(Value::Bytes(&[1, 2, 3])
            .push_int64s(&mut ints, 4, "t", "dims")
            .is_err());
        assert!(Value::Bytes(&[0x80])
            .push_int64s(&mut Vec::new(), 4, "t", "dims")
            .is_err());
        let mut floats = Vec::new();
        Value::Bytes(&1.5f32.to_le_bytes())
            .push_floats(&mut floats, 2, "t", "f")
            .unwrap();
        Value::Fixed32(2.5f32.to_bits())
            .push_floats(&mut floats, 2, "t", "f")
            .unwrap();
        assert_eq!(floats, [1.5, 2.5]);
        assert!(Value::Fixed32(0)
            .push_floats(&mut floats, 2, "t", "f")
            .is_err());
        assert!(Value::Bytes(&[0; 3])
            .push_floats(&mut Vec::new(), 9, "t", "f")
            .is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut r = Reader::new(&bytes, "test");
            while let Ok(Some(_)) = r.next_field() {}
        }
    }
}
