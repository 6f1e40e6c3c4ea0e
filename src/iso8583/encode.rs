//! Encoding: a message to send, written into a caller's reusable buffer.
//!
//! `OutMessage` holds borrowed values (nothing is copied until the write);
//! `OutMessage::encode_into` writes MTI, bitmaps and fields in order, padding
//! fixed fields and prefixing variable ones as the spec says. With a reused
//! buffer of enough capacity, encoding allocates nothing.

use super::decode::Message;
use super::encoding::{Encoding, Format, write_length_prefix, write_logical};
use super::error::{EncodeError, EncodeErrorKind, FieldRef};
use super::spec::{FieldDef, Length, MAX_POSITION, Spec};

/// A value to write.
#[derive(Debug, Clone, Copy, Default)]
pub enum OutValue<'a> {
    #[default]
    Absent,
    /// Logical characters (ASCII) or, for binary fields, raw bytes; fixed
    /// fields are padded (numbers with leading zeros, text with trailing spaces).
    Text(&'a [u8]),
    /// A number, written in decimal and zero-padded to a fixed field's width.
    Number(u64),
    /// Bytes already in the field's wire encoding (without length prefix),
    /// e.g. echoed from a request read with the same spec.
    Wire(&'a [u8]),
}

/// A message to send: MTI plus values by position.
#[derive(Debug, Clone)]
pub struct OutMessage<'a> {
    mti: u16,
    values: [OutValue<'a>; MAX_POSITION + 1],
}

impl<'a> OutMessage<'a> {
    pub fn new(mti: u16) -> Self {
        Self { mti, values: [OutValue::Absent; MAX_POSITION + 1] }
    }

    pub fn mti(&self) -> u16 {
        self.mti
    }

    /// Sets DE `position` (2..=128, not 65); out-of-range positions are ignored.
    #[inline]
    pub fn set(&mut self, position: usize, value: OutValue<'a>) -> &mut Self {
        if (2..=MAX_POSITION).contains(&position) && position != 65 {
            self.values[position] = value;
        }
        self
    }

    #[inline]
    pub fn set_text(&mut self, position: usize, text: &'a [u8]) -> &mut Self {
        self.set(position, OutValue::Text(text))
    }

    #[inline]
    pub fn set_number(&mut self, position: usize, number: u64) -> &mut Self {
        self.set(position, OutValue::Number(number))
    }

    pub fn remove(&mut self, position: usize) -> &mut Self {
        self.set(position, OutValue::Absent)
    }

    pub fn get(&self, position: usize) -> OutValue<'a> {
        self.values.get(position).copied().unwrap_or_default()
    }

    /// Copies the listed fields, where present, from a received message (wire form).
    pub fn echo(&mut self, request: &Message<'a>, positions: &[usize]) -> &mut Self {
        for &position in positions {
            if let Some(wire) = request.raw(position) {
                self.set(position, OutValue::Wire(wire));
            }
        }
        self
    }

    /// Writes the message into `out` (cleared first).
    pub fn encode_into(&self, spec: &Spec, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.clear();
        let definition = spec
            .message(self.mti)
            .ok_or(EncodeError::new(FieldRef::Mti, EncodeErrorKind::UnknownMti))?;
        let mut mti_digits = [0u8; 4];
        write_digits(u64::from(self.mti), &mut mti_digits);
        write_logical(spec.mti.encoding, Format::N, &mti_digits, 4, out)
            .map_err(|offset| EncodeError::new(FieldRef::Mti, EncodeErrorKind::InvalidCharacter { offset }))?;

        let mut bitmap = [0u64; 2];
        for (position, value) in self.values.iter().enumerate() {
            if !matches!(value, OutValue::Absent) {
                bitmap[(position - 1) / 64] |= 1 << (63 - (position - 1) % 64);
            }
        }
        if bitmap[1] != 0 {
            bitmap[0] |= 1 << 63;
        }
        out.extend_from_slice(&bitmap[0].to_be_bytes());
        if bitmap[1] != 0 {
            out.extend_from_slice(&bitmap[1].to_be_bytes());
        }
        for (position, value) in self.values.iter().enumerate() {
            if matches!(value, OutValue::Absent) {
                continue;
            }
            let field = FieldRef::De(position as u8);
            let def = definition
                .field(position)
                .ok_or(EncodeError::new(field, EncodeErrorKind::NotInSpec))?;
            encode_field(def, value, out).map_err(|kind| EncodeError::new(field, kind))?;
        }
        Ok(())
    }
}

/// Writes `value` as decimal digits right-aligned in `buffer`, zero-filled;
/// returns the index of the first significant digit.
fn write_digits(mut value: u64, buffer: &mut [u8]) -> usize {
    let mut first = buffer.len();
    for slot in buffer.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
        first -= 1;
        if value == 0 {
            break;
        }
    }
    for slot in &mut buffer[..first] {
        *slot = b'0';
    }
    first
}

fn encode_field(def: &FieldDef, value: &OutValue<'_>, out: &mut Vec<u8>) -> Result<(), EncodeErrorKind> {
    match *value {
        OutValue::Absent => Ok(()),
        OutValue::Wire(wire) => encode_wire(def, wire, out),
        OutValue::Number(number) => {
            if !def.format.pads_left_with_zeros() {
                return Err(EncodeErrorKind::NotNumeric);
            }
            let mut buffer = [0u8; 20];
            let first = write_digits(number, &mut buffer);
            encode_text(def, &buffer[first..], out)
        }
        OutValue::Text(text) => encode_text(def, text, out),
    }
}

fn encode_wire(def: &FieldDef, wire: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeErrorKind> {
    match def.length {
        Length::Fixed(expected) if wire.len() != expected => {
            Err(EncodeErrorKind::WrongLength { expected, found: wire.len() })
        }
        Length::Fixed(_) => {
            out.extend_from_slice(wire);
            Ok(())
        }
        Length::Variable { prefix_bytes, prefix_encoding, max } => {
            if wire.len() > max {
                return Err(EncodeErrorKind::TooLong { max, found: wire.len() });
            }
            write_length_prefix(prefix_encoding, prefix_bytes, wire.len(), out);
            out.extend_from_slice(wire);
            Ok(())
        }
    }
}

/// Writes a logical value: checks it against the field's format and size,
/// pads a fixed field, prefixes a variable one, transcodes to the encoding.
fn encode_text(def: &FieldDef, text: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeErrorKind> {
    if let Some(offset) = text.iter().position(|&byte| !def.format.allows(byte)) {
        return Err(EncodeErrorKind::InvalidCharacter { offset });
    }
    let invalid = |offset| EncodeErrorKind::InvalidCharacter { offset };
    match def.length {
        Length::Fixed(wire_len) => {
            let width = def.encoding.logical_len(wire_len);
            if def.encoding == Encoding::BINARY && text.len() != width {
                return Err(EncodeErrorKind::WrongLength { expected: width, found: text.len() });
            }
            if text.len() > width {
                return Err(EncodeErrorKind::TooLong { max: width, found: text.len() });
            }
            write_logical(def.encoding, def.format, text, width, out).map_err(invalid)
        }
        Length::Variable { prefix_bytes, prefix_encoding, max } => {
            let wire_len = def.encoding.wire_len(text.len());
            if wire_len > max {
                return Err(EncodeErrorKind::TooLong { max, found: wire_len });
            }
            write_length_prefix(prefix_encoding, prefix_bytes, wire_len, out);
            // BCD of an odd digit count gets a leading zero nibble.
            let width = def.encoding.logical_len(wire_len);
            write_logical(def.encoding, def.format, text, width, out).map_err(invalid)
        }
    }
}
