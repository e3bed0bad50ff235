//! A bounded reader of the protobuf wire format, enough for SentencePiece's `ModelProto`:
//! varints, fixed 32/64-bit values and length-delimited fields. Every length is checked against
//! the bytes that are there before anything is sliced, so hostile bytes give an error, never a
//! panic or an allocation.

/// Why bytes are not a protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message ends inside a field.
    #[error("truncated at byte {offset}")]
    Truncated {
        /// Where the missing bytes should have been.
        offset: usize,
    },
    /// A varint longer than 10 bytes.
    #[error("overlong varint at byte {offset}")]
    Overlong {
        /// Where the varint starts.
        offset: usize,
    },
    /// Field number 0, a deprecated group or an unknown wire type.
    #[error("bad field key {key} at byte {offset}")]
    BadKey {
        /// The key as read.
        key: u64,
        /// Where it starts.
        offset: usize,
    },
}

/// One field's value as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Wire type 0 (int32/64, uint, bool, enum).
    Varint(u64),
    /// Wire type 1 (fixed64, double).
    Fixed64(u64),
    /// Wire type 2 (string, bytes, sub-message, packed repeated).
    Bytes(&'a [u8]),
    /// Wire type 5 (fixed32, float).
    Fixed32(u32),
}

impl Value<'_> {
    /// The value of a varint field (`None` for another wire type).
    pub fn varint(self) -> Option<u64> {
        match self {
            Value::Varint(v) => Some(v),
            _ => None,
        }
    }

    /// A `bool` field.
    pub fn bool(self) -> Option<bool> {
        self.varint().map(|v| v != 0)
    }

    /// A `float` field.
    pub fn float(self) -> Option<f32> {
        match self {
            Value::Fixed32(v) => Some(f32::from_bits(v)),
            _ => None,
        }
    }

    /// A `string`, `bytes` or sub-message field.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The fields of one message, in order; yields an error once and then stops.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// The fields of the message `buf`.
    pub fn new(buf: &'a [u8]) -> Fields<'a> {
        Fields {
            buf,
            pos: 0,
            failed: false,
        }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(WireError::Truncated { offset: self.pos });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError::Overlong { offset: start })
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], WireError> {
        let rest = self.buf.len() - self.pos;
        if n > rest as u64 {
            return Err(WireError::Truncated {
                offset: self.buf.len(),
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(bytes)
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), WireError> {
        let offset = self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(WireError::BadKey { key, offset });
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let len = self.varint()?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            )),
            _ => return Err(WireError::BadKey { key, offset }),
        };
        Ok((number as u32, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> Result<Vec<(u32, Value<'_>)>, WireError> {
        Fields::new(buf).collect()
    }

    #[test]
    fn reads_every_wire_type() {
        // 1: varint 300, 2: "hi", 3: float 1.5, 4: fixed64 7.
        let mut buf = vec![0x08, 0xac, 0x02, 0x12, 2, b'h', b'i', 0x1d];
        buf.extend(1.5f32.to_le_bytes());
        buf.push(0x21);
        buf.extend(7u64.to_le_bytes());
        let fields = all(&buf).unwrap();
        assert_eq!(
            fields,
            [
                (1, Value::Varint(300)),
                (2, Value::Bytes(b"hi")),
                (3, Value::Fixed32(1.5f32.to_bits())),
                (4, Value::Fixed64(7)),
            ]
        );
        assert_eq!(fields[2].1.float(), Some(1.5));
        assert_eq!(fields[0].1.bytes(), None);
        assert!(all(&[]).unwrap().is_empty());
    }

    #[test]
    fn truncated_and_garbage_bytes_are_errors() {
        let cases: [(&[u8], WireError); 7] = [
            (&[0x08], WireError::Truncated { offset: 1 }),
            (&[0x08, 0x80], WireError::Truncated { offset: 2 }),
            (&[0x12, 5, b'a'], WireError::Truncated { offset: 3 }),
            (&[0x1d, 1, 2], WireError::Truncated { offset: 3 }),
            (
                &[0x0b],
                WireError::BadKey {
                    key: 0x0b,
                    offset: 0,
                },
            ),
            (&[0x00, 0x01], WireError::BadKey { key: 0, offset: 0 }),
            (
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ],
                WireError::Overlong { offset: 1 },
            ),
        ];
        for (buf, want) in cases {
            assert_eq!(all(buf).unwrap_err(), want, "{buf:?}");
        }
        // A length near u64::MAX is refused, not allocated or sliced.
        let mut huge = vec![0x12];
        huge.extend([0xff; 9]);
        huge.push(0x01);
        assert!(matches!(all(&huge), Err(WireError::Truncated { .. })));
        // After an error the iterator stops.
        let mut fields = Fields::new(&[0x0b, 0x08, 0x01]);
        assert!(fields.next().unwrap().is_err());
        assert!(fields.next().is_none());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..2000 {
            let buf: Vec<u8> = (0..len % 64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            for field in Fields::new(&buf) {
                if let Ok((_, Value::Bytes(inner))) = field {
                    let _ = Fields::new(inner).count();
                }
            }
        }
    }
}
