//! Character encodings and content formats of fields.
//!
//! A field has a wire encoding (how its bytes look on the wire) and a content
//! format (which characters its value may hold). Values handed to and read
//! from the codec are "logical": ASCII characters for text and digits, raw
//! bytes for binary fields. EBCDIC uses code page 037, the common choice of
//! EBCDIC ISO 8583 dialects; BCD packs two digits per byte, left-padded with a
//! zero nibble when the count is odd.

use serde::Deserialize;

/// How a field's bytes are written on the wire (names as iso8583_rs spells them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms, reason = "the spec file format spells them so")]
pub enum Encoding {
    ASCII,
    EBCDIC,
    BINARY,
    BCD,
}

/// Which characters a value may hold (ISO 8583 attribute letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Digits.
    N,
    /// Letters, digits, and the space that pads fixed fields.
    An,
    /// Printable characters.
    Ans,
    /// Track-2 style: digits, `=` and `D` as separator.
    Z,
    /// Raw bytes.
    B,
}

impl Format {
    /// True when `byte` (a logical, ASCII value) is allowed.
    #[inline]
    pub fn allows(self, byte: u8) -> bool {
        match self {
            Format::N => byte.is_ascii_digit(),
            Format::An => byte.is_ascii_alphanumeric() || byte == b' ',
            Format::Ans => (0x20..=0x7E).contains(&byte),
            Format::Z => byte.is_ascii_digit() || byte == b'=' || byte == b'D',
            Format::B => true,
        }
    }

    /// Fixed fields pad numbers on the left with zeros, text on the right with spaces.
    pub fn pads_left_with_zeros(self) -> bool {
        matches!(self, Format::N | Format::Z)
    }
}

impl Encoding {
    /// Logical characters carried by `wire_len` bytes.
    pub fn logical_len(self, wire_len: usize) -> usize {
        match self {
            Encoding::BCD => wire_len * 2,
            _ => wire_len,
        }
    }

    /// Wire bytes needed for `logical_len` characters.
    pub fn wire_len(self, logical_len: usize) -> usize {
        match self {
            Encoding::BCD => logical_len.div_ceil(2),
            _ => logical_len,
        }
    }
}

#[inline]
pub fn ebcdic_to_ascii(byte: u8) -> Option<u8> {
    match EBCDIC_TO_ASCII[byte as usize] {
        0xFF => None,
        ascii => Some(ascii),
    }
}

#[inline]
pub fn ascii_to_ebcdic(byte: u8) -> Option<u8> {
    ASCII_TO_EBCDIC.get(byte as usize).copied()
}

/// What [`logical_bytes`] yields for a wire byte or nibble with no ASCII
/// meaning. Not ASCII, so no text format allows it: `?` would pass as `ans`
/// and let a malformed EBCDIC field through `validate`.
pub const NOT_A_CHARACTER: u8 = 0xFF;

/// The logical characters of a wire value, one at a time, without allocating.
/// Binary values yield their bytes; BCD yields one ASCII digit per nibble.
/// EBCDIC bytes outside code page 037's ASCII subset and BCD nibbles above 9
/// yield [`NOT_A_CHARACTER`].
pub fn logical_bytes(encoding: Encoding, wire: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let per_byte = if encoding == Encoding::BCD { 2 } else { 1 };
    (0..wire.len() * per_byte).map(move |index| match encoding {
        Encoding::ASCII | Encoding::BINARY => wire[index],
        Encoding::EBCDIC => ebcdic_to_ascii(wire[index]).unwrap_or(NOT_A_CHARACTER),
        Encoding::BCD => {
            let byte = wire[index / 2];
            let nibble = if index % 2 == 0 { byte >> 4 } else { byte & 0x0F };
            if nibble <= 9 { b'0' + nibble } else { NOT_A_CHARACTER }
        }
    })
}

/// Writes logical `value` in `encoding`, padded to `logical_width` characters
/// (no padding when `logical_width` is the value's own length). The error is
/// the offset in `value` (not counting padding) of a character the encoding
/// cannot carry.
pub fn write_logical(
    encoding: Encoding,
    format: Format,
    value: &[u8],
    logical_width: usize,
    out: &mut Vec<u8>,
) -> Result<(), usize> {
    let padding = logical_width.saturating_sub(value.len());
    let (left, right) = if format.pads_left_with_zeros() || encoding == Encoding::BCD {
        (padding, 0)
    } else {
        (0, padding)
    };
    let pad_char = if format.pads_left_with_zeros() || encoding == Encoding::BCD {
        b'0'
    } else {
        b' '
    };
    let chars = std::iter::repeat_n(pad_char, left)
        .chain(value.iter().copied())
        .chain(std::iter::repeat_n(b' ', right));
    if encoding == Encoding::ASCII && value.is_ascii() {
        // The common case, as slices rather than a character at a time.
        out.resize(out.len() + left, pad_char);
        out.extend_from_slice(value);
        out.resize(out.len() + right, b' ');
        return Ok(());
    }
    // Padding characters are always encodable, so an offset is never below `left`.
    let value_offset = |offset: usize| offset - left;
    match encoding {
        Encoding::ASCII | Encoding::BINARY => {
            for (offset, byte) in chars.enumerate() {
                if encoding == Encoding::ASCII && !byte.is_ascii() {
                    return Err(value_offset(offset));
                }
                out.push(byte);
            }
        }
        Encoding::EBCDIC => {
            for (offset, byte) in chars.enumerate() {
                out.push(ascii_to_ebcdic(byte).ok_or_else(|| value_offset(offset))?);
            }
        }
        Encoding::BCD => {
            // An odd count gets one more leading zero nibble.
            let total = left + value.len();
            let mut high: Option<u8> = if total % 2 == 1 { Some(0) } else { None };
            for (offset, byte) in chars.enumerate() {
                if !byte.is_ascii_digit() {
                    return Err(value_offset(offset));
                }
                let nibble = byte - b'0';
                match high.take() {
                    Some(h) => out.push(h << 4 | nibble),
                    None => high = Some(nibble),
                }
            }
        }
    }
    Ok(())
}

/// Reads a decimal number from a wire value; `None` if any character is not a digit
/// or the number does not fit.
pub fn parse_decimal(encoding: Encoding, wire: &[u8]) -> Option<u64> {
    if encoding == Encoding::BINARY {
        if wire.len() > 8 {
            return None;
        }
        return Some(wire.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)));
    }
    let mut value: u64 = 0;
    for byte in logical_bytes(encoding, wire) {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
    }
    Some(value)
}

/// Writes `value` as a length prefix of `wire_len` bytes in `encoding`.
pub fn write_length_prefix(encoding: Encoding, wire_len: usize, value: usize, out: &mut Vec<u8>) {
    match encoding {
        Encoding::BINARY => {
            for index in (0..wire_len).rev() {
                out.push((value >> (8 * index)) as u8);
            }
        }
        _ => {
            let digits = encoding.logical_len(wire_len);
            let mut buffer = [b'0'; 20];
            let mut rest = value;
            for slot in buffer[20 - digits..].iter_mut().rev() {
                *slot = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            // The caller checked `value` against the prefix's capacity.
            let _ = write_logical(encoding, Format::N, &buffer[20 - digits..], digits, out);
        }
    }
}

/// Largest value a length prefix of `wire_len` bytes can state.
pub fn length_prefix_capacity(encoding: Encoding, wire_len: usize) -> usize {
    match encoding {
        Encoding::BINARY => (1usize << (8 * wire_len.min(4))) - 1,
        _ => 10usize.pow(encoding.logical_len(wire_len).min(9) as u32) - 1,
    }
}

#[rustfmt::skip] // sixteen to a row, as code tables are printed
const ASCII_TO_EBCDIC: [u8; 128] = [
    0x00, 0x01, 0x02, 0x03, 0x37, 0x2D, 0x2E, 0x2F, 0x16, 0x05, 0x25, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
    0x10, 0x11, 0x12, 0x13, 0x3C, 0x3D, 0x32, 0x26, 0x18, 0x19, 0x3F, 0x27, 0x1C, 0x1D, 0x1E, 0x1F,
    0x40, 0x5A, 0x7F, 0x7B, 0x5B, 0x6C, 0x50, 0x7D, 0x4D, 0x5D, 0x5C, 0x4E, 0x6B, 0x60, 0x4B, 0x61,
    0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0x7A, 0x5E, 0x4C, 0x7E, 0x6E, 0x6F,
    0x7C, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6,
    0xD7, 0xD8, 0xD9, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xBA, 0xE0, 0xBB, 0xB0, 0x6D,
    0x79, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96,
    0x97, 0x98, 0x99, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xC0, 0x4F, 0xD0, 0xA1, 0x07,
];

/// 0xFF marks an EBCDIC byte with no ASCII counterpart.
#[rustfmt::skip] // sixteen to a row, as code tables are printed
const EBCDIC_TO_ASCII: [u8; 256] = [
    0x00, 0x01, 0x02, 0x03, 0xFF, 0x09, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
    0x10, 0x11, 0x12, 0x13, 0xFF, 0xFF, 0x08, 0xFF, 0x18, 0x19, 0xFF, 0xFF, 0x1C, 0x1D, 0x1E, 0x1F,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0A, 0x17, 0x1B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0x06, 0x07,
    0xFF, 0xFF, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x14, 0x15, 0xFF, 0x1A,
    0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E, 0x3C, 0x28, 0x2B, 0x7C,
    0x26, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x21, 0x24, 0x2A, 0x29, 0x3B, 0xFF,
    0x2D, 0x2F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x2C, 0x25, 0x5F, 0x3E, 0x3F,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x60, 0x3A, 0x23, 0x40, 0x27, 0x3D, 0x22,
    0xFF, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70, 0x71, 0x72, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0x7E, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x5B, 0x5D, 0xFF, 0xFF, 0xFF, 0xFF,
    0x7B, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x7D, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F, 0x50, 0x51, 0x52, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5C, 0xFF, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn written(encoding: Encoding, format: Format, value: &[u8], width: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_logical(encoding, format, value, width, &mut out).unwrap();
        out
    }

    fn prefix(encoding: Encoding, wire_len: usize, value: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_length_prefix(encoding, wire_len, value, &mut out);
        out
    }

    #[test]
    fn ebcdic_round_trips_every_ascii_character() {
        for ascii in 0u8..=0x7F {
            let ebcdic = ascii_to_ebcdic(ascii).unwrap();
            assert_eq!(ebcdic_to_ascii(ebcdic), Some(ascii), "ASCII {ascii:#04x}");
        }
        assert_eq!(ascii_to_ebcdic(0x80), None);
    }

    #[test]
    fn ebcdic_is_code_page_037() {
        // Values from the cp037 table, so a swapped row cannot go unnoticed.
        let cases: [(u8, u8); 12] = [
            (b' ', 0x40),
            (b'0', 0xF0),
            (b'9', 0xF9),
            (b'A', 0xC1),
            (b'J', 0xD1),
            (b'S', 0xE2),
            (b'a', 0x81),
            (b'z', 0xA9),
            (b'[', 0xBA),
            (b']', 0xBB),
            (b'!', 0x5A),
            (b'|', 0x4F),
        ];
        for (ascii, ebcdic) in cases {
            assert_eq!(ascii_to_ebcdic(ascii), Some(ebcdic), "{:?}", ascii as char);
            assert_eq!(ebcdic_to_ascii(ebcdic), Some(ascii));
        }
        // No ASCII counterpart (cp037 puts Latin-1 letters there).
        assert_eq!(ebcdic_to_ascii(0x41), None);
        assert_eq!(ebcdic_to_ascii(0xFF), None);
    }

    #[test]
    fn ebcdic_text_round_trips_through_write_and_read() {
        let text = b"ANTACA Card 42/7";
        let wire = written(Encoding::EBCDIC, Format::Ans, text, text.len());
        assert_eq!(&wire[..6], &[0xC1, 0xD5, 0xE3, 0xC1, 0xC3, 0xC1]);
        assert_eq!(logical_bytes(Encoding::EBCDIC, &wire).collect::<Vec<_>>(), text);
    }

    #[test]
    fn unmapped_wire_bytes_read_as_a_character_no_text_format_allows() {
        let ebcdic: Vec<u8> = logical_bytes(Encoding::EBCDIC, &[0xC1, 0x41]).collect();
        assert_eq!(ebcdic, [b'A', NOT_A_CHARACTER]);
        let bcd: Vec<u8> = logical_bytes(Encoding::BCD, &[0x1A]).collect();
        assert_eq!(bcd, [b'1', NOT_A_CHARACTER]);
        for format in [Format::N, Format::An, Format::Ans, Format::Z] {
            assert!(!format.allows(NOT_A_CHARACTER), "{format:?}");
        }
    }

    #[test]
    fn bcd_packs_two_digits_per_byte() {
        assert_eq!(written(Encoding::BCD, Format::N, b"123456", 6), [0x12, 0x34, 0x56]);
        assert_eq!(
            logical_bytes(Encoding::BCD, &[0x12, 0x34, 0x56]).collect::<Vec<_>>(),
            b"123456"
        );
        assert_eq!(parse_decimal(Encoding::BCD, &[0x21, 0x00]), Some(2100));
    }

    #[test]
    fn bcd_odd_digit_counts_get_a_leading_zero_nibble() {
        assert_eq!(written(Encoding::BCD, Format::N, b"123", 3), [0x01, 0x23]);
        assert_eq!(written(Encoding::BCD, Format::N, b"7", 1), [0x07]);
        assert_eq!(logical_bytes(Encoding::BCD, &[0x01, 0x23]).collect::<Vec<_>>(), b"0123");
    }

    #[test]
    fn bcd_pads_fixed_values_with_leading_zeros() {
        assert_eq!(written(Encoding::BCD, Format::N, b"42", 6), [0x00, 0x00, 0x42]);
        assert_eq!(written(Encoding::BCD, Format::N, b"", 4), [0x00, 0x00]);
    }

    #[test]
    fn bcd_round_trips_every_digit_pair() {
        for value in 0..100u8 {
            let digits = [b'0' + value / 10, b'0' + value % 10];
            let wire = written(Encoding::BCD, Format::N, &digits, 2);
            assert_eq!(wire, [((value / 10) << 4) | (value % 10)]);
            assert_eq!(logical_bytes(Encoding::BCD, &wire).collect::<Vec<_>>(), digits);
        }
    }

    #[test]
    fn fixed_numbers_pad_with_leading_zeros() {
        assert_eq!(written(Encoding::ASCII, Format::N, b"42", 6), b"000042");
        assert_eq!(written(Encoding::ASCII, Format::Z, b"4=", 4), b"004=");
        assert_eq!(written(Encoding::EBCDIC, Format::N, b"42", 4), [0xF0, 0xF0, 0xF4, 0xF2]);
    }

    #[test]
    fn fixed_text_pads_with_trailing_spaces() {
        assert_eq!(written(Encoding::ASCII, Format::An, b"AB1", 6), b"AB1   ");
        assert_eq!(written(Encoding::ASCII, Format::Ans, b"T-1", 8), b"T-1     ");
        assert_eq!(written(Encoding::EBCDIC, Format::An, b"A", 3), [0xC1, 0x40, 0x40]);
    }

    #[test]
    fn a_value_as_wide_as_the_field_is_not_padded() {
        assert_eq!(written(Encoding::ASCII, Format::N, b"123456", 6), b"123456");
        assert_eq!(written(Encoding::ASCII, Format::Ans, b"ABCDEFGH", 8), b"ABCDEFGH");
    }

    #[test]
    fn binary_values_are_written_as_they_are() {
        let bytes = [0x00, 0xFF, 0x80, 0x7F];
        assert_eq!(written(Encoding::BINARY, Format::B, &bytes, 4), bytes);
        assert_eq!(logical_bytes(Encoding::BINARY, &bytes).collect::<Vec<_>>(), bytes);
    }

    #[test]
    fn write_errors_give_the_offset_in_the_value_not_counting_padding() {
        let mut out = Vec::new();
        assert_eq!(write_logical(Encoding::BCD, Format::N, b"1A", 6, &mut out), Err(1));
        out.clear();
        assert_eq!(
            write_logical(Encoding::ASCII, Format::N, &[b'1', 0xC3], 5, &mut out),
            Err(1)
        );
        out.clear();
        assert_eq!(
            write_logical(Encoding::EBCDIC, Format::Ans, &[b'A', b'B', 0x80], 5, &mut out),
            Err(2)
        );
    }

    #[test]
    fn ascii_length_prefixes() {
        assert_eq!(prefix(Encoding::ASCII, 1, 7), b"7");
        assert_eq!(prefix(Encoding::ASCII, 2, 7), b"07");
        assert_eq!(prefix(Encoding::ASCII, 2, 19), b"19");
        assert_eq!(prefix(Encoding::ASCII, 3, 120), b"120");
        assert_eq!(prefix(Encoding::ASCII, 3, 5), b"005");
        assert_eq!(parse_decimal(Encoding::ASCII, b"019"), Some(19));
    }

    #[test]
    fn ebcdic_length_prefixes() {
        assert_eq!(prefix(Encoding::EBCDIC, 2, 16), [0xF1, 0xF6]);
        assert_eq!(prefix(Encoding::EBCDIC, 3, 7), [0xF0, 0xF0, 0xF7]);
        assert_eq!(parse_decimal(Encoding::EBCDIC, &[0xF1, 0xF6]), Some(16));
        assert_eq!(parse_decimal(Encoding::EBCDIC, &[0xF1, 0xC1]), None);
    }

    #[test]
    fn bcd_length_prefixes() {
        assert_eq!(prefix(Encoding::BCD, 1, 16), [0x16]);
        assert_eq!(prefix(Encoding::BCD, 1, 7), [0x07]);
        assert_eq!(prefix(Encoding::BCD, 2, 123), [0x01, 0x23]);
        assert_eq!(parse_decimal(Encoding::BCD, &[0x01, 0x23]), Some(123));
        assert_eq!(parse_decimal(Encoding::BCD, &[0x1F]), None);
    }

    #[test]
    fn binary_length_prefixes() {
        assert_eq!(prefix(Encoding::BINARY, 1, 200), [0xC8]);
        assert_eq!(prefix(Encoding::BINARY, 2, 300), [0x01, 0x2C]);
        assert_eq!(parse_decimal(Encoding::BINARY, &[0x01, 0x2C]), Some(300));
        assert_eq!(parse_decimal(Encoding::BINARY, &[0xFF]), Some(255));
    }

    #[test]
    fn every_prefix_value_round_trips_up_to_its_capacity() {
        let kinds = [
            (Encoding::ASCII, 1),
            (Encoding::ASCII, 2),
            (Encoding::ASCII, 3),
            (Encoding::EBCDIC, 2),
            (Encoding::EBCDIC, 3),
            (Encoding::BCD, 1),
            (Encoding::BCD, 2),
            (Encoding::BINARY, 1),
            (Encoding::BINARY, 2),
        ];
        for (encoding, wire_len) in kinds {
            for value in 0..=length_prefix_capacity(encoding, wire_len) {
                let wire = prefix(encoding, wire_len, value);
                assert_eq!(wire.len(), wire_len, "{encoding:?} {wire_len} {value}");
                assert_eq!(
                    parse_decimal(encoding, &wire),
                    Some(value as u64),
                    "{encoding:?} {wire_len}"
                );
            }
        }
    }

    #[test]
    fn prefix_capacities() {
        assert_eq!(length_prefix_capacity(Encoding::ASCII, 1), 9);
        assert_eq!(length_prefix_capacity(Encoding::ASCII, 2), 99);
        assert_eq!(length_prefix_capacity(Encoding::ASCII, 3), 999);
        assert_eq!(length_prefix_capacity(Encoding::EBCDIC, 3), 999);
        assert_eq!(length_prefix_capacity(Encoding::BCD, 1), 99);
        assert_eq!(length_prefix_capacity(Encoding::BCD, 2), 9999);
        assert_eq!(length_prefix_capacity(Encoding::BINARY, 1), 255);
        assert_eq!(length_prefix_capacity(Encoding::BINARY, 2), 65_535);
    }

    #[test]
    fn parse_decimal_rejects_non_digits_and_overflow() {
        assert_eq!(parse_decimal(Encoding::ASCII, b"12 4"), None);
        assert_eq!(parse_decimal(Encoding::ASCII, b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(Encoding::ASCII, b"18446744073709551616"), None);
        assert_eq!(parse_decimal(Encoding::BINARY, &[1; 9]), None);
        assert_eq!(parse_decimal(Encoding::ASCII, b""), Some(0));
    }

    #[test]
    fn formats_allow_their_characters_only() {
        assert!(Format::N.allows(b'7') && !Format::N.allows(b'A') && !Format::N.allows(b' '));
        assert!(Format::An.allows(b'z') && Format::An.allows(b' ') && !Format::An.allows(b'-'));
        assert!(Format::Ans.allows(b'-') && Format::Ans.allows(b'~') && !Format::Ans.allows(0x1F));
        assert!(!Format::Ans.allows(0x7F));
        assert!(Format::Z.allows(b'=') && Format::Z.allows(b'D') && !Format::Z.allows(b'E'));
        assert!((0..=255).all(|byte| Format::B.allows(byte)));
    }

    #[test]
    fn logical_and_wire_lengths() {
        assert_eq!(Encoding::BCD.logical_len(3), 6);
        assert_eq!(Encoding::BCD.wire_len(5), 3);
        assert_eq!(Encoding::EBCDIC.wire_len(5), 5);
        assert_eq!(Encoding::BINARY.logical_len(8), 8);
    }
}
