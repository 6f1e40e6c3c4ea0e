//! Encoding: a message to send, written into a caller's reusable buffer.
//!
//! `OutMessage` holds borrowed values (nothing is copied until the write);
//! `OutMessage::encode_into` writes MTI, bitmaps and fields in order, padding
//! fixed fields and prefixing variable ones as the spec says. With a reused
//! buffer of enough capacity, encoding allocates nothing.

use super::decode::{Message, present_positions};
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
    /// Which values are set, as the wire bitmaps say it: encoding walks these
    /// bits instead of every position.
    present: [u64; 2],
    values: [OutValue<'a>; MAX_POSITION + 1],
}

impl<'a> OutMessage<'a> {
    pub fn new(mti: u16) -> Self {
        Self {
            mti,
            present: [0; 2],
            values: [OutValue::Absent; MAX_POSITION + 1],
        }
    }

    pub fn mti(&self) -> u16 {
        self.mti
    }

    /// Sets DE `position` (2..=128, not 65); out-of-range positions are ignored.
    #[inline]
    pub fn set(&mut self, position: usize, value: OutValue<'a>) -> &mut Self {
        if (2..=MAX_POSITION).contains(&position) && position != 65 {
            let (word, bit) = ((position - 1) / 64, 1u64 << (63 - (position - 1) % 64));
            match value {
                OutValue::Absent => self.present[word] &= !bit,
                _ => self.present[word] |= bit,
            }
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

        let mut bitmap = self.present;
        if bitmap[1] != 0 {
            bitmap[0] |= 1 << 63;
        }
        out.extend_from_slice(&bitmap[0].to_be_bytes());
        if bitmap[1] != 0 {
            out.extend_from_slice(&bitmap[1].to_be_bytes());
        }
        for position in present_positions(self.present) {
            let field = FieldRef::De(position as u8);
            let def = definition
                .field(position)
                .ok_or(EncodeError::new(field, EncodeErrorKind::NotInSpec))?;
            encode_field(def, &self.values[position], out).map_err(|kind| EncodeError::new(field, kind))?;
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
        Length::Fixed(expected) if wire.len() != expected => Err(EncodeErrorKind::WrongLength {
            expected,
            found: wire.len(),
        }),
        Length::Fixed(_) => {
            out.extend_from_slice(wire);
            Ok(())
        }
        Length::Variable {
            prefix_bytes,
            prefix_encoding,
            max,
        } => {
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
                return Err(EncodeErrorKind::WrongLength {
                    expected: width,
                    found: text.len(),
                });
            }
            if text.len() > width {
                return Err(EncodeErrorKind::TooLong {
                    max: width,
                    found: text.len(),
                });
            }
            write_logical(def.encoding, def.format, text, width, out).map_err(invalid)
        }
        Length::Variable {
            prefix_bytes,
            prefix_encoding,
            max,
        } => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso8583::decode::tests::{PIN_BLOCK, authorization, card_lock};
    use crate::iso8583::spec::tests::{EBCDIC_BCD_SPEC, default_spec, ebcdic_bcd_0100};

    const ECHOED: [usize; 12] = [2, 3, 4, 7, 11, 12, 24, 32, 37, 41, 42, 49];

    /// The 2110 approval of `authorization()`, written by hand.
    fn approval() -> Vec<u8> {
        let parts: &[&[u8]] = &[
            b"2110",
            &[0x72, 0x30, 0x01, 0x01, 0x0E, 0xC0, 0x84, 0x00],
            b"164111111111111111",
            b"000000",
            b"000000012345",
            b"1124233045",
            b"123456",
            b"261124233045",
            b"100",
            b"06123456",
            b"633012345678",
            b"A1B2C3",
            b"0000",
            b"TERM0001",
            b"MERCHANT0000001",
            b"978",
            b"0200002978C000000100000",
        ];
        parts.concat()
    }

    fn encoded(spec: &Spec, message: &OutMessage<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        message.encode_into(spec, &mut out).unwrap();
        out
    }

    #[track_caller]
    fn encode_error(spec: &Spec, message: &OutMessage<'_>) -> EncodeError {
        let mut out = Vec::new();
        message.encode_into(spec, &mut out).unwrap_err()
    }

    /// A 2110 with one field set, for checking how that field is written.
    fn one_field(position: usize, value: OutValue<'_>) -> OutMessage<'_> {
        let mut message = OutMessage::new(2110);
        message.set(position, value);
        message
    }

    /// The wire bytes of the only field of a 2110 (after MTI and primary bitmap).
    fn field_bytes(spec: &Spec, position: usize, value: OutValue<'_>) -> Vec<u8> {
        encoded(spec, &one_field(position, value))[12..].to_vec()
    }

    #[test]
    fn encodes_an_approval_byte_for_byte() {
        let spec = default_spec();
        let mut message = OutMessage::new(2110);
        message
            .set_text(2, b"4111111111111111")
            .set_text(3, b"000000")
            .set_number(4, 12_345)
            .set_text(7, b"1124233045")
            .set_number(11, 123_456)
            .set_text(12, b"261124233045")
            .set_number(24, 100)
            .set_text(32, b"123456")
            .set_text(37, b"633012345678")
            .set_text(38, b"A1B2C3")
            .set_number(39, 0)
            .set_text(41, b"TERM0001")
            .set_text(42, b"MERCHANT0000001")
            .set_number(49, 978)
            .set_text(54, b"0002978C000000100000");
        assert_eq!(message.mti(), 2110);
        assert_eq!(encoded(&spec, &message), approval());
    }

    #[test]
    fn echoed_fields_are_copied_as_they_were_received() {
        let spec = default_spec();
        let request_bytes = authorization();
        let request = Message::decode(&spec, &request_bytes).unwrap();
        let mut response = OutMessage::new(request.mti() + 10);
        response
            .echo(&request, &ECHOED)
            .echo(&request, &[6, 51, 56]) // absent in the request: stay absent
            .set_text(38, b"A1B2C3")
            .set_text(39, b"0000")
            .set_text(54, b"0002978C000000100000");
        assert!(matches!(response.get(2), OutValue::Wire(b"4111111111111111")));
        assert!(matches!(response.get(6), OutValue::Absent));
        assert_eq!(encoded(&spec, &response), approval());
    }

    #[test]
    fn a_decoded_message_re_encodes_to_the_same_bytes() {
        let spec = default_spec();
        for bytes in [authorization(), card_lock(), approval()] {
            let message = Message::decode(&spec, &bytes).unwrap();
            let mut copy = OutMessage::new(message.mti());
            let positions: Vec<usize> = message.positions().collect();
            copy.echo(&message, &positions);
            assert_eq!(encoded(&spec, &copy), bytes);
        }
    }

    #[test]
    fn fixed_numeric_fields_pad_with_leading_zeros() {
        let spec = default_spec();
        assert_eq!(field_bytes(&spec, 11, OutValue::Number(42)), b"000042");
        assert_eq!(field_bytes(&spec, 11, OutValue::Text(b"42")), b"000042");
        assert_eq!(field_bytes(&spec, 4, OutValue::Number(0)), b"000000000000");
        assert_eq!(field_bytes(&spec, 4, OutValue::Text(b"")), b"000000000000");
        assert_eq!(
            field_bytes(&spec, 4, OutValue::Number(999_999_999_999)),
            b"999999999999"
        );
    }

    #[test]
    fn fixed_text_fields_pad_with_trailing_spaces() {
        let spec = default_spec();
        assert_eq!(field_bytes(&spec, 38, OutValue::Text(b"AB1")), b"AB1   ");
        assert_eq!(field_bytes(&spec, 41, OutValue::Text(b"T-1")), b"T-1     ");
        assert_eq!(field_bytes(&spec, 42, OutValue::Text(b"SHOP 7")), b"SHOP 7         ");
    }

    #[test]
    fn variable_fields_are_prefixed_not_padded() {
        let spec = default_spec();
        assert_eq!(field_bytes(&spec, 2, OutValue::Number(4111)), b"044111");
        assert_eq!(field_bytes(&spec, 32, OutValue::Text(b"")), b"00");
        assert_eq!(field_bytes(&spec, 48, OutValue::Text(b"9203123")), b"0079203123");
        assert_eq!(field_bytes(&spec, 43, OutValue::Wire(b"CAFE")), b"04CAFE");
        let longest = vec![b'x'; 999];
        assert_eq!(field_bytes(&spec, 48, OutValue::Text(&longest))[..3], *b"999");
    }

    #[test]
    fn binary_fields_are_raw_bytes() {
        let spec = default_spec();
        assert_eq!(field_bytes(&spec, 52, OutValue::Text(&PIN_BLOCK)), PIN_BLOCK);
        assert_eq!(field_bytes(&spec, 64, OutValue::Wire(&[0xFF; 8])), [0xFF; 8]);
    }

    #[test]
    fn the_secondary_bitmap_is_present_exactly_when_a_data_element_above_64_is() {
        let spec = default_spec();
        let mut message = OutMessage::new(2314);
        message.set_text(11, b"123457").set_number(39, 3000);
        let without = encoded(&spec, &message);
        assert_eq!(without[4..12], [0x00, 0x20, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
        assert_eq!(without.len(), 4 + 8 + 6 + 4);

        message.set_text(91, b"1");
        let with = encoded(&spec, &message);
        assert_eq!(
            with[4..12],
            [0x80, 0x20, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00],
            "bit 1 announces DE 1"
        );
        assert_eq!(
            with[12..20],
            [0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00],
            "bit 27 is DE 91"
        );
        assert_eq!(&with[20..], b"12345730001");

        message.remove(91);
        assert_eq!(encoded(&spec, &message), without);

        // A data element at 64 is still in the primary bitmap.
        let mac = encoded(&spec, &one_field(64, OutValue::Wire(&[0; 8])));
        assert_eq!(mac[4..12], [0, 0, 0, 0, 0, 0, 0, 0x01]);
        assert_eq!(mac.len(), 4 + 8 + 8);
    }

    #[test]
    fn positions_that_are_not_data_elements_are_ignored() {
        let spec = default_spec();
        let mut message = OutMessage::new(2814);
        for position in [0, 1, 65, 129, usize::MAX] {
            message.set_text(position, b"1");
            assert!(matches!(message.get(position), OutValue::Absent), "{position}");
        }
        assert_eq!(encoded(&spec, &message), [&b"2814"[..], &[0; 8]].concat());
    }

    #[test]
    fn encoding_replaces_what_the_buffer_held() {
        let spec = default_spec();
        let mut out = b"left over".to_vec();
        OutMessage::new(2814).encode_into(&spec, &mut out).unwrap();
        assert_eq!(out, [&b"2814"[..], &[0; 8]].concat());
    }

    #[test]
    fn an_undefined_mti_is_unknown() {
        let spec = default_spec();
        for mti in [2400, 100, 9999, 10_000, u16::MAX] {
            let error = encode_error(&spec, &OutMessage::new(mti));
            assert_eq!(
                error,
                EncodeError {
                    field: FieldRef::Mti,
                    kind: EncodeErrorKind::UnknownMti
                }
            );
        }
    }

    #[test]
    fn a_field_the_spec_does_not_define_is_named() {
        let spec = default_spec();
        for position in [5, 100, 128] {
            let error = encode_error(&spec, &one_field(position, OutValue::Number(1)));
            assert_eq!(
                error,
                EncodeError {
                    field: FieldRef::De(position as u8),
                    kind: EncodeErrorKind::NotInSpec
                }
            );
        }
    }

    #[test]
    fn values_over_the_field_size_are_too_long() {
        let spec = default_spec();
        let too_long = |max, found| EncodeErrorKind::TooLong { max, found };
        let cases: [(usize, OutValue<'_>, EncodeErrorKind); 5] = [
            (11, OutValue::Text(b"1234567"), too_long(6, 7)),
            (11, OutValue::Number(1_000_000), too_long(6, 7)),
            (2, OutValue::Text(b"41111111111111111111"), too_long(19, 20)),
            (54, OutValue::Wire(&[b'0'; 121]), too_long(120, 121)),
            (38, OutValue::Text(b"ABCDEFG"), too_long(6, 7)),
        ];
        for (position, value, kind) in cases {
            let error = encode_error(&spec, &one_field(position, value));
            assert_eq!(
                error,
                EncodeError {
                    field: FieldRef::De(position as u8),
                    kind
                },
                "DE {position}"
            );
        }
    }

    #[test]
    fn binary_and_pre_encoded_fixed_values_must_be_exact() {
        let spec = default_spec();
        let wrong = |expected, found| EncodeErrorKind::WrongLength { expected, found };
        let cases: [(usize, OutValue<'_>, EncodeErrorKind); 4] = [
            (52, OutValue::Text(&PIN_BLOCK[..7]), wrong(8, 7)),
            (52, OutValue::Text(&[0; 9]), wrong(8, 9)),
            (11, OutValue::Wire(b"42"), wrong(6, 2)),
            (64, OutValue::Wire(&[0; 16]), wrong(8, 16)),
        ];
        for (position, value, kind) in cases {
            let error = encode_error(&spec, &one_field(position, value));
            assert_eq!(
                error,
                EncodeError {
                    field: FieldRef::De(position as u8),
                    kind
                },
                "DE {position}"
            );
        }
    }

    #[test]
    fn numbers_are_for_numeric_fields_only() {
        let spec = default_spec();
        for position in [37, 41, 48, 52] {
            let error = encode_error(&spec, &one_field(position, OutValue::Number(7)));
            assert_eq!(
                error,
                EncodeError {
                    field: FieldRef::De(position as u8),
                    kind: EncodeErrorKind::NotNumeric
                }
            );
        }
    }

    #[test]
    fn characters_the_format_does_not_allow_are_named_by_offset() {
        let spec = default_spec();
        let cases: [(usize, &[u8], usize); 5] = [
            (39, b"12A4", 2),
            (2, b"4111 1111", 4),
            (37, b"6330-2", 4),
            (41, b"TERM\t001", 4),
            (48, "92 é".as_bytes(), 3),
        ];
        for (position, text, offset) in cases {
            let error = encode_error(&spec, &one_field(position, OutValue::Text(text)));
            let kind = EncodeErrorKind::InvalidCharacter { offset };
            assert_eq!(
                error,
                EncodeError {
                    field: FieldRef::De(position as u8),
                    kind
                },
                "DE {position}"
            );
        }
    }

    #[test]
    fn the_first_bad_field_is_reported() {
        let spec = default_spec();
        let mut message = OutMessage::new(2110);
        message.set_text(3, b"00000X").set_text(39, b"X");
        assert_eq!(encode_error(&spec, &message).field, FieldRef::De(3));
    }

    #[test]
    fn encodes_the_ebcdic_bcd_dialect_byte_for_byte() {
        let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
        let icc = [0x9F, 0x02, 0x02, 0x12, 0x34];
        let pin_block = [0x0A, 0x1B, 0x2C, 0x3D, 0x4E, 0x5F, 0x60, 0x71];
        let mut message = OutMessage::new(100);
        message
            .set_text(2, b"4111111111111111")
            .set_number(3, 0)
            .set_number(4, 12_345)
            .set_text(11, b"123456")
            .set_text(35, b"4111111111111111=2812")
            .set_text(37, b"633012345678")
            .set_text(41, b"TERM0001")
            .set_text(43, b"Cafe Lisboa")
            .set_text(48, b"9203123")
            .set_text(52, &pin_block)
            .set_text(55, &icc)
            .set_text(102, b"ACC-000042");
        let bytes = encoded(&spec, &message);
        assert_eq!(bytes, ebcdic_bcd_0100());
        let decoded = Message::decode(&spec, &bytes).unwrap();
        let mut copy = OutMessage::new(100);
        copy.echo(&decoded, &decoded.positions().collect::<Vec<_>>());
        assert_eq!(encoded(&spec, &copy), bytes);
    }

    #[test]
    fn the_ebcdic_bcd_dialect_pads_in_its_own_encodings() {
        let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
        let field = |position, value| {
            let mut message = OutMessage::new(110);
            message.set(position, value);
            encoded(&spec, &message)[12..].to_vec()
        };
        assert_eq!(
            field(2, OutValue::Text(b"411111111111111")),
            [0x08, 0x04, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]
        );
        assert_eq!(field(4, OutValue::Number(42)), [0, 0, 0, 0, 0, 0x42]);
        assert_eq!(field(11, OutValue::Text(b"7")), [0, 0, 0x07]);
        assert_eq!(field(39, OutValue::Text(b"0")), [0xF0, 0x40]);
        assert_eq!(
            field(41, OutValue::Text(b"T1")),
            [0xE3, 0xF1, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40]
        );
        assert_eq!(field(43, OutValue::Text(b"")), [0xF0, 0xF0]);
        assert_eq!(field(48, OutValue::Text(&[b'x'; 300]))[..2], [0x01, 0x2C]);
        assert_eq!(field(55, OutValue::Text(&[0xAB; 123]))[..3], [0x01, 0x23, 0xAB]);
    }

    #[test]
    fn the_ebcdic_bcd_dialect_rejects_what_its_fields_cannot_carry() {
        let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
        let error = |position, value| {
            let mut message = OutMessage::new(110);
            message.set(position, value);
            let mut out = Vec::new();
            message.encode_into(&spec, &mut out).unwrap_err()
        };
        let field = |position| FieldRef::De(position);
        assert_eq!(
            error(3, OutValue::Text(b"00A000")),
            EncodeError {
                field: field(3),
                kind: EncodeErrorKind::InvalidCharacter { offset: 2 }
            }
        );
        assert_eq!(
            error(2, OutValue::Text(&[b'4'; 21])),
            EncodeError {
                field: field(2),
                kind: EncodeErrorKind::TooLong { max: 10, found: 11 }
            }
        );
        assert_eq!(
            error(4, OutValue::Number(1_000_000_000_000)),
            EncodeError {
                field: field(4),
                kind: EncodeErrorKind::TooLong { max: 12, found: 13 }
            }
        );
        assert_eq!(
            error(55, OutValue::Wire(&[0; 256])),
            EncodeError {
                field: field(55),
                kind: EncodeErrorKind::TooLong { max: 255, found: 256 }
            }
        );
        assert_eq!(
            error(37, OutValue::Number(1)),
            EncodeError {
                field: field(37),
                kind: EncodeErrorKind::NotNumeric
            }
        );
        assert_eq!(
            error(35, OutValue::Text(b"4111=28X")),
            EncodeError {
                field: field(35),
                kind: EncodeErrorKind::InvalidCharacter { offset: 7 }
            }
        );
    }

    #[test]
    fn errors_render_with_the_field_and_without_its_value() {
        let spec = default_spec();
        let error = encode_error(&spec, &one_field(2, OutValue::Text(b"4111111111111111X")));
        let shown = error.to_string();
        assert_eq!(shown, "DE 2: character at offset 16 cannot be encoded");
        assert!(!shown.contains("4111"));
    }
}
