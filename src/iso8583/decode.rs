//! Decoding: a zero-copy view of a received message.
//!
//! `Message` records where each present field's value lies in the received
//! bytes (offsets, no copies, no allocation); accessors read values in place.
//! Decoding checks structure only (MTI, bitmaps, length prefixes, that every
//! announced field is defined and nothing trails). Content formats are
//! checked separately (`check_format`, `validate`), so a message with one bad
//! field can still be read far enough to echo its identity in a 9100 answer.

use super::encoding::{Encoding, Format, logical_bytes, parse_decimal};
use super::error::{DecodeError, DecodeErrorKind, FieldRef};
use super::spec::{FieldDef, Length, MAX_POSITION, MessageDef, Spec};

/// Where a present field's value lies: `start..start + len` in the message bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// A decoded message: the received bytes plus the location of every field.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    spec: &'a Spec,
    definition: &'a MessageDef,
    mti: u16,
    /// Bit `n` (1-based, MSB first as on the wire) of `bitmap[0]` is DE n, of `bitmap[1]` DE 64+n.
    bitmap: [u64; 2],
    spans: [Span; MAX_POSITION + 1],
}

/// One field's value, in place.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    /// The value's bytes as on the wire (without any length prefix).
    pub wire: &'a [u8],
    pub encoding: Encoding,
    pub format: Format,
}

impl<'a> Value<'a> {
    /// The value as text, if it is ASCII on the wire (zero-copy).
    #[inline]
    pub fn as_str(&self) -> Option<&'a str> {
        match self.encoding {
            Encoding::ASCII => std::str::from_utf8(self.wire).ok(),
            _ => None,
        }
    }

    /// The value's logical characters (ASCII) or bytes (binary), transcoded on the fly.
    pub fn logical(&self) -> impl Iterator<Item = u8> + 'a {
        logical_bytes(self.encoding, self.wire)
    }

    /// Number of logical characters.
    pub fn logical_len(&self) -> usize {
        self.encoding.logical_len(self.wire.len())
    }

    /// The value as a decimal number; `None` if not all digits or too large.
    #[inline]
    pub fn as_u64(&self) -> Option<u64> {
        if self.encoding == Encoding::BINARY {
            return None;
        }
        parse_decimal(self.encoding, self.wire)
    }

    /// True when the logical value equals `expected` (ASCII), without allocating.
    pub fn eq_logical(&self, expected: &[u8]) -> bool {
        self.logical_len() == expected.len() && self.logical().eq(expected.iter().copied())
    }

    /// Offset of the first character the format does not allow.
    pub fn first_invalid(&self) -> Option<usize> {
        self.logical().position(|byte| !self.format.allows(byte))
    }
}

impl<'a> Message<'a> {
    /// Decodes a whole message; any structural problem is an error naming the field.
    #[inline]
    pub fn decode(spec: &'a Spec, bytes: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        let (message, error) = Message::decode_lenient(spec, bytes)?;
        match error {
            None => Ok(message),
            Some(error) => Err(error),
        }
    }

    /// Decodes as far as possible. Fails only when the MTI or a bitmap cannot be
    /// read (nothing can be answered); otherwise returns the view of every field
    /// read before the first problem, and that problem.
    #[inline]
    pub fn decode_lenient(spec: &'a Spec, bytes: &'a [u8]) -> Result<(Message<'a>, Option<DecodeError>), DecodeError> {
        let mut cursor = Cursor { bytes, offset: 0 };
        let mti_wire = cursor.take(spec.mti.wire_len, FieldRef::Mti)?;
        let mti = parse_decimal(spec.mti.encoding, mti_wire)
            .filter(|_| spec.mti.encoding.logical_len(mti_wire.len()) == 4)
            .ok_or(DecodeError::new(FieldRef::Mti, DecodeErrorKind::InvalidMti))? as u16;
        let definition = spec
            .message(mti)
            .ok_or(DecodeError::new(FieldRef::Mti, DecodeErrorKind::UnknownMti))?;
        let primary = cursor.take_u64(FieldRef::PrimaryBitmap)?;
        let secondary = if primary >> 63 == 1 {
            let secondary = cursor.take_u64(FieldRef::SecondaryBitmap)?;
            if secondary >> 63 == 1 {
                return Err(DecodeError::new(
                    FieldRef::SecondaryBitmap,
                    DecodeErrorKind::TertiaryBitmap,
                ));
            }
            secondary
        } else {
            0
        };
        let mut message = Message {
            bytes,
            spec,
            definition,
            mti,
            bitmap: [primary, secondary],
            spans: [Span::default(); MAX_POSITION + 1],
        };
        let mut error = message.read_fields(&mut cursor).err();
        if error.is_some() {
            // Fields from the failing one on are unknown: hide them from accessors.
            message.keep_only_read_fields();
        }
        if primary >> 63 == 1 && secondary == 0 {
            // The contract sends DE 1 exactly when a DE 65–128 is present. The
            // fields are still readable, for a 9100 answer; and a decoded
            // message always re-encodes to the bytes it came from.
            error = Some(DecodeError::new(
                FieldRef::SecondaryBitmap,
                DecodeErrorKind::EmptySecondaryBitmap,
            ));
        }
        Ok((message, error))
    }

    fn read_fields(&mut self, cursor: &mut Cursor<'a>) -> Result<(), DecodeError> {
        for position in present_positions(self.bitmap) {
            let field = FieldRef::De(position as u8);
            let def = self
                .definition
                .field(position)
                .ok_or(DecodeError::new(field, DecodeErrorKind::NotInSpec))?;
            let wire_len = match def.length {
                Length::Fixed(len) => len,
                Length::Variable {
                    prefix_bytes,
                    prefix_encoding,
                    max,
                } => {
                    let prefix = cursor.take(prefix_bytes, field)?;
                    let len = parse_decimal(prefix_encoding, prefix)
                        .ok_or(DecodeError::new(field, DecodeErrorKind::InvalidLengthPrefix))?
                        as usize;
                    if len > max {
                        return Err(DecodeError::new(field, DecodeErrorKind::TooLong { max, found: len }));
                    }
                    len
                }
            };
            let start = cursor.offset;
            cursor.take(wire_len, field)?;
            self.spans[position] = Span {
                start: start as u32,
                len: wire_len as u32,
            };
        }
        let count = cursor.bytes.len() - cursor.offset;
        if count > 0 {
            let last = (2..=MAX_POSITION).rev().find(|&p| p != 65 && self.bit(p)).unwrap_or(1);
            let field = if last == 1 {
                FieldRef::PrimaryBitmap
            } else {
                FieldRef::De(last as u8)
            };
            return Err(DecodeError::new(field, DecodeErrorKind::TrailingBytes { count }));
        }
        Ok(())
    }

    /// Clears the presence bits of fields not read (after a decode error). A
    /// read field always starts after the MTI and bitmap, so `start == 0` means unread.
    fn keep_only_read_fields(&mut self) {
        for position in 2..=MAX_POSITION {
            if position != 65 && self.spans[position].start == 0 {
                self.clear_bit(position);
            }
        }
    }

    #[inline]
    fn bit(&self, position: usize) -> bool {
        let (word, index) = ((position - 1) / 64, (position - 1) % 64);
        self.bitmap[word] >> (63 - index) & 1 == 1
    }

    fn clear_bit(&mut self, position: usize) {
        let (word, index) = ((position - 1) / 64, (position - 1) % 64);
        self.bitmap[word] &= !(1 << (63 - index));
    }

    /// The message type indicator, e.g. 2100.
    #[inline]
    pub fn mti(&self) -> u16 {
        self.mti
    }

    /// The spec this message was read with.
    pub fn spec(&self) -> &'a Spec {
        self.spec
    }

    /// The received bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// True when DE `position` is present.
    #[inline]
    pub fn has(&self, position: usize) -> bool {
        (2..=MAX_POSITION).contains(&position) && position != 65 && self.bit(position)
    }

    /// Positions of the present data elements, ascending.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        present_positions(self.bitmap)
    }

    /// The field definition of DE `position` for this message.
    pub fn definition(&self, position: usize) -> Option<&'a FieldDef> {
        self.definition.field(position)
    }

    /// DE `position`'s value in place, if present.
    #[inline]
    pub fn value(&self, position: usize) -> Option<Value<'a>> {
        if !self.has(position) {
            return None;
        }
        let def = self.definition.field(position)?;
        let span = self.spans[position];
        let wire = &self.bytes[span.start as usize..(span.start + span.len) as usize];
        Some(Value {
            wire,
            encoding: def.encoding,
            format: def.format,
        })
    }

    /// DE `position`'s wire bytes (no length prefix), if present.
    #[inline]
    pub fn raw(&self, position: usize) -> Option<&'a [u8]> {
        self.value(position).map(|value| value.wire)
    }

    /// DE `position` as text when it is ASCII on the wire (zero-copy).
    #[inline]
    pub fn str(&self, position: usize) -> Option<&'a str> {
        self.value(position).and_then(|value| value.as_str())
    }

    /// DE `position` as a decimal number; `None` if absent, not digits or too large.
    #[inline]
    pub fn u64(&self, position: usize) -> Option<u64> {
        self.value(position).and_then(|value| value.as_u64())
    }

    /// Checks DE `position`'s characters against its format (absent is fine).
    pub fn check_format(&self, position: usize) -> Result<(), DecodeError> {
        match self.value(position).and_then(|value| value.first_invalid()) {
            Some(offset) => Err(DecodeError::new(
                FieldRef::De(position as u8),
                DecodeErrorKind::InvalidCharacter { offset },
            )),
            None => Ok(()),
        }
    }

    /// Checks every present field against its format.
    pub fn validate(&self) -> Result<(), DecodeError> {
        self.positions().try_for_each(|position| self.check_format(position))
    }
}

/// The data elements a bitmap pair announces, ascending. Bits 1 and 65 announce
/// bitmaps, not data elements. Walks the set bits only: most of 128 are clear.
pub(crate) fn present_positions(bitmap: [u64; 2]) -> impl Iterator<Item = usize> {
    const BITMAP_BIT: u64 = 1 << 63;
    let mut words = [bitmap[0] & !BITMAP_BIT, bitmap[1] & !BITMAP_BIT];
    let mut word = 0;
    std::iter::from_fn(move || {
        while word < words.len() {
            if words[word] != 0 {
                let index = words[word].leading_zeros() as usize;
                words[word] &= !(BITMAP_BIT >> index);
                return Some(word * 64 + index + 1);
            }
            word += 1;
        }
        None
    })
}

/// A bounded reader over the message bytes: never reads past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn take(&mut self, len: usize, field: FieldRef) -> Result<&'a [u8], DecodeError> {
        let available = self.bytes.len() - self.offset;
        if len > available {
            return Err(DecodeError::new(
                field,
                DecodeErrorKind::Truncated { needed: len, available },
            ));
        }
        let slice = &self.bytes[self.offset..self.offset + len];
        self.offset += len;
        Ok(slice)
    }

    fn take_u64(&mut self, field: FieldRef) -> Result<u64, DecodeError> {
        let bytes = self.take(8, field)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Ok(u64::from_be_bytes(word))
    }
}

#[cfg(test)]
pub(crate) mod tests;
