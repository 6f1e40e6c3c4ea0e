//! Unit tests of the decoder (their fixtures are shared with the encoder's tests).

use super::*;
use crate::iso8583::spec::tests::{EBCDIC_BCD_SPEC, default_spec, ebcdic_bcd_0100};

pub(crate) const PIN_BLOCK: [u8; 8] = [0x8C, 0x1F, 0x02, 0x44, 0xE3, 0x5A, 0x90, 0x07];

/// A 2100 written by hand from the contract (DE 2, 3, 4, 7, 11, 12, 14, 22,
/// 24, 26, 32, 37, 41, 42, 48, 49, 52).
pub(crate) fn authorization() -> Vec<u8> {
    let parts: &[&[u8]] = &[
        b"2100",
        &[0x72, 0x34, 0x05, 0x41, 0x08, 0xC1, 0x90, 0x00],
        b"164111111111111111",
        b"000000",
        b"000000012345",
        b"1124233045",
        b"123456",
        b"261124233045",
        b"2812",
        b"051",
        b"100",
        b"5411",
        b"06123456",
        b"633012345678",
        b"TERM0001",
        b"MERCHANT0000001",
        b"0079203123",
        b"978",
        &PIN_BLOCK,
    ];
    parts.concat()
}

/// A 2304 card lock with DE 91, so with a secondary bitmap.
pub(crate) fn card_lock() -> Vec<u8> {
    let parts: &[&[u8]] = &[
        b"2304",
        &[0xC2, 0x30, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00], // DE 1, 2, 7, 11, 12, 32, 48
        &[0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00], // DE 91
        b"164111111111111111",
        b"1124233045",
        b"123457",
        b"261124233045",
        b"06123456",
        b"006930201",
        b"1",
    ];
    parts.concat()
}

/// MTI, an 8-byte primary bitmap announcing `positions` (all below 65), then `fields`.
fn message(mti: &[u8], positions: &[usize], fields: &[&[u8]]) -> Vec<u8> {
    let mut bitmap = 0u64;
    for &position in positions {
        bitmap |= 1 << (64 - position);
    }
    let mut bytes = mti.to_vec();
    bytes.extend_from_slice(&bitmap.to_be_bytes());
    bytes.extend_from_slice(&fields.concat());
    bytes
}

#[track_caller]
fn decode_error(spec: &Spec, bytes: &[u8]) -> DecodeError {
    match Message::decode(spec, bytes) {
        Ok(message) => panic!("decoded {:?}", message.positions().collect::<Vec<_>>()),
        Err(error) => error,
    }
}

#[test]
fn present_positions_walk_the_set_bits_except_the_bitmap_bits() {
    let all: Vec<usize> = present_positions([u64::MAX, u64::MAX]).collect();
    assert_eq!(all, (2..=128).filter(|&position| position != 65).collect::<Vec<_>>());
    assert_eq!(present_positions([0, 0]).count(), 0);
    assert_eq!(present_positions([1 << 63, 1 << 63]).count(), 0);
    let some: Vec<usize> = present_positions([(1 << 62) | 1, 1 << 37]).collect();
    assert_eq!(some, [2, 64, 91]);
}

#[test]
fn decodes_an_authorization_field_by_field() {
    let spec = default_spec();
    let bytes = authorization();
    let message = Message::decode(&spec, &bytes).unwrap();
    assert_eq!(message.mti(), 2100);
    assert_eq!(
        message.positions().collect::<Vec<_>>(),
        [2, 3, 4, 7, 11, 12, 14, 22, 24, 26, 32, 37, 41, 42, 48, 49, 52]
    );
    assert_eq!(message.str(2), Some("4111111111111111"));
    assert_eq!(message.str(3), Some("000000"));
    assert_eq!(message.u64(4), Some(12_345));
    assert_eq!(message.str(12), Some("261124233045"));
    assert_eq!(message.str(32), Some("123456"));
    assert_eq!(message.str(37), Some("633012345678"));
    assert_eq!(message.str(42), Some("MERCHANT0000001"));
    assert_eq!(message.str(48), Some("9203123"));
    assert_eq!(message.u64(49), Some(978));
    assert_eq!(message.raw(52), Some(&PIN_BLOCK[..]));
    assert_eq!(message.u64(52), None, "binary values are not decimal numbers");
    assert_eq!(message.definition(52).unwrap().name, "pin_data");
    assert_eq!(message.bytes(), &bytes[..]);
    assert!(std::ptr::eq(message.spec(), &spec));
    message.validate().unwrap();
}

#[test]
fn values_are_views_into_the_received_bytes() {
    let spec = default_spec();
    let bytes = authorization();
    let message = Message::decode(&spec, &bytes).unwrap();
    let pan = message.raw(2).unwrap();
    // Zero-copy: the value lies inside the input, after its "16" prefix.
    assert_eq!(pan.as_ptr(), bytes[14..].as_ptr());
    let value = message.value(41).unwrap();
    assert!(value.eq_logical(b"TERM0001") && !value.eq_logical(b"TERM0002") && !value.eq_logical(b"TERM000"));
    assert_eq!(value.logical_len(), 8);
    assert_eq!(value.first_invalid(), None);
}

#[test]
fn absent_and_impossible_positions_read_as_absent() {
    let spec = default_spec();
    let bytes = authorization();
    let message = Message::decode(&spec, &bytes).unwrap();
    for position in [0, 1, 5, 38, 64, 65, 91, 128, 129, 1000] {
        assert!(!message.has(position), "DE {position}");
        assert!(message.value(position).is_none() && message.str(position).is_none());
    }
    message.check_format(39).unwrap();
}

#[test]
fn a_secondary_bitmap_announces_data_elements_65_to_128() {
    let spec = default_spec();
    let bytes = card_lock();
    let message = Message::decode(&spec, &bytes).unwrap();
    assert_eq!(message.mti(), 2304);
    assert_eq!(message.positions().collect::<Vec<_>>(), [2, 7, 11, 12, 32, 48, 91]);
    assert_eq!(message.str(48), Some("930201"));
    assert_eq!(message.str(91), Some("1"));
    assert!(!message.has(1) && !message.has(65));
}

#[test]
fn a_message_without_fields_decodes() {
    let spec = default_spec();
    let bytes = message(b"2814", &[], &[]);
    assert_eq!(Message::decode(&spec, &bytes).unwrap().positions().count(), 0);
}

#[test]
fn truncation_names_the_part_that_ends_early() {
    let spec = default_spec();
    let truncated = |needed, available| DecodeErrorKind::Truncated { needed, available };
    let cases: [(Vec<u8>, FieldRef, DecodeErrorKind); 7] = [
        (b"".to_vec(), FieldRef::Mti, truncated(4, 0)),
        (b"21".to_vec(), FieldRef::Mti, truncated(4, 2)),
        (
            [&b"2100"[..], &[0x72, 0x34, 0x05]].concat(),
            FieldRef::PrimaryBitmap,
            truncated(8, 3),
        ),
        (card_lock()[..16].to_vec(), FieldRef::SecondaryBitmap, truncated(8, 4)),
        (message(b"2100", &[3], &[b"000"]), FieldRef::De(3), truncated(6, 3)),
        (message(b"2100", &[2], &[b"1"]), FieldRef::De(2), truncated(2, 1)),
        (message(b"2100", &[2], &[b"164111"]), FieldRef::De(2), truncated(16, 4)),
    ];
    for (bytes, field, kind) in cases {
        assert_eq!(decode_error(&spec, &bytes), DecodeError { field, kind }, "{bytes:02X?}");
    }
    let whole = authorization();
    // Cut inside DE 52, the last field.
    let error = decode_error(&spec, &whole[..whole.len() - 1]);
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::De(52),
            kind: truncated(8, 7)
        }
    );
}

#[test]
fn an_undefined_mti_is_unknown() {
    let spec = default_spec();
    for mti in [&b"2400"[..], b"0100", b"9999"] {
        let error = decode_error(&spec, &message(mti, &[], &[]));
        assert_eq!(
            error,
            DecodeError {
                field: FieldRef::Mti,
                kind: DecodeErrorKind::UnknownMti
            }
        );
    }
}

#[test]
fn an_mti_that_is_not_four_digits_is_invalid() {
    let spec = default_spec();
    for mti in [&b"21A0"[..], b" 210", b"+210", &[0x32, 0x31, 0x30, 0xB0]] {
        let error = decode_error(&spec, &message(mti, &[], &[]));
        assert_eq!(
            error,
            DecodeError {
                field: FieldRef::Mti,
                kind: DecodeErrorKind::InvalidMti
            }
        );
    }
}

#[test]
fn a_field_the_spec_does_not_define_is_named() {
    let spec = default_spec();
    let error = decode_error(&spec, &message(b"2100", &[3, 5], &[b"000000", b"000000000001"]));
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::De(5),
            kind: DecodeErrorKind::NotInSpec
        }
    );
    let mut secondary = card_lock();
    // DE 101 instead of DE 91 in the secondary bitmap (bytes 12..20).
    secondary[15] = 0x00;
    secondary[16] = 0x08;
    let error = decode_error(&spec, &secondary);
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::De(101),
            kind: DecodeErrorKind::NotInSpec
        }
    );
}

#[test]
fn a_tertiary_bitmap_is_rejected() {
    let spec = default_spec();
    let mut bytes = card_lock();
    bytes[12] |= 0x80; // bit 65 of the secondary bitmap
    let error = decode_error(&spec, &bytes);
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::SecondaryBitmap,
            kind: DecodeErrorKind::TertiaryBitmap
        }
    );
}

#[test]
fn an_empty_secondary_bitmap_is_rejected_but_the_fields_stay_readable() {
    let spec = default_spec();
    let mut bytes = card_lock();
    bytes[15] = 0x00; // no DE 91 in the secondary bitmap
    bytes.pop(); // nor its value
    let expected = DecodeError {
        field: FieldRef::SecondaryBitmap,
        kind: DecodeErrorKind::EmptySecondaryBitmap,
    };
    assert_eq!(decode_error(&spec, &bytes), expected);
    let (message, error) = Message::decode_lenient(&spec, &bytes).unwrap();
    assert_eq!(error, Some(expected));
    assert_eq!(message.positions().collect::<Vec<_>>(), [2, 7, 11, 12, 32, 48]);
}

#[test]
fn errors_render_with_the_field_and_without_its_value() {
    let spec = default_spec();
    let error = decode_error(&spec, &message(b"2100", &[2], &[b"2041111111111111111111"]));
    assert_eq!(error.to_string(), "DE 2: length 20 exceeds the maximum 19");
    let error = decode_error(&spec, &b"21"[..]);
    assert_eq!(
        error.to_string(),
        "MTI: message ends inside the field (needs 4 bytes, 2 left)"
    );
}

#[test]
fn a_length_prefix_that_is_not_a_number_is_named() {
    let spec = default_spec();
    for prefix in [&b"1A"[..], b" 6", b"-1"] {
        let bytes = message(b"2100", &[2], &[prefix, b"411111"]);
        let error = decode_error(&spec, &bytes);
        assert_eq!(
            error,
            DecodeError {
                field: FieldRef::De(2),
                kind: DecodeErrorKind::InvalidLengthPrefix
            }
        );
    }
}

#[test]
fn a_variable_field_over_its_maximum_is_too_long() {
    let spec = default_spec();
    let error = decode_error(&spec, &message(b"2100", &[2], &[b"2041111111111111111111"]));
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::De(2),
            kind: DecodeErrorKind::TooLong { max: 19, found: 20 }
        }
    );
    let long = vec![b'0'; 121];
    let error = decode_error(&spec, &message(b"2110", &[54], &[b"121", &long]));
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::De(54),
            kind: DecodeErrorKind::TooLong { max: 120, found: 121 }
        }
    );
}

#[test]
fn trailing_bytes_are_rejected_after_the_last_field() {
    let spec = default_spec();
    let mut bytes = authorization();
    bytes.extend_from_slice(b"XY");
    let error = decode_error(&spec, &bytes);
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::De(52),
            kind: DecodeErrorKind::TrailingBytes { count: 2 }
        }
    );
    let error = decode_error(&spec, &message(b"2804", &[], &[b"0"]));
    assert_eq!(
        error,
        DecodeError {
            field: FieldRef::PrimaryBitmap,
            kind: DecodeErrorKind::TrailingBytes { count: 1 }
        }
    );
    let mut lock = card_lock();
    lock.push(b'1');
    assert_eq!(decode_error(&spec, &lock).field, FieldRef::De(91));
}

#[test]
fn format_checks_name_the_field_and_the_offset() {
    let spec = default_spec();
    let bytes = message(b"2100", &[3, 37, 41], &[b"00A000", b"6330-2345678", b"TERM\x01001"]);
    let message = Message::decode(&spec, &bytes).unwrap();
    let invalid = |position, offset| DecodeError {
        field: FieldRef::De(position),
        kind: DecodeErrorKind::InvalidCharacter { offset },
    };
    assert_eq!(message.check_format(3), Err(invalid(3, 2)));
    assert_eq!(message.check_format(37), Err(invalid(37, 4)), "an has no punctuation");
    assert_eq!(
        message.check_format(41),
        Err(invalid(41, 4)),
        "ans has no control characters"
    );
    assert_eq!(message.validate(), Err(invalid(3, 2)), "the first bad field");
    assert_eq!(message.value(3).unwrap().first_invalid(), Some(2));
    assert_eq!(message.u64(3), None);
}

#[test]
fn lenient_decoding_keeps_the_fields_read_before_the_problem() {
    let spec = default_spec();
    let bytes = message(
        b"2100",
        &[2, 3, 11, 32, 37],
        &[
            b"164111111111111111",
            b"000000",
            b"123456",
            b"X6123456",
            b"633012345678",
        ],
    );
    let (message, error) = Message::decode_lenient(&spec, &bytes).unwrap();
    assert_eq!(
        error,
        Some(DecodeError {
            field: FieldRef::De(32),
            kind: DecodeErrorKind::InvalidLengthPrefix
        })
    );
    assert_eq!(message.positions().collect::<Vec<_>>(), [2, 3, 11]);
    assert_eq!(message.str(11), Some("123456"));
    assert!(message.value(32).is_none() && message.value(37).is_none());
    assert_eq!(Message::decode(&spec, &bytes).unwrap_err(), error.unwrap());
}

#[test]
fn lenient_decoding_reports_trailing_bytes_with_every_field_readable() {
    let spec = default_spec();
    let mut bytes = authorization();
    bytes.push(b'!');
    let (message, error) = Message::decode_lenient(&spec, &bytes).unwrap();
    assert_eq!(error.unwrap().kind, DecodeErrorKind::TrailingBytes { count: 1 });
    assert_eq!(message.positions().count(), 17);
}

#[test]
fn lenient_decoding_fails_without_an_mti_or_a_bitmap() {
    let spec = default_spec();
    assert_eq!(
        Message::decode_lenient(&spec, b"2100\x72").unwrap_err().field,
        FieldRef::PrimaryBitmap
    );
    assert_eq!(
        Message::decode_lenient(&spec, b"ABCD").unwrap_err().field,
        FieldRef::Mti
    );
}

#[test]
fn decodes_the_ebcdic_bcd_dialect() {
    let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
    let bytes = ebcdic_bcd_0100();
    let message = Message::decode(&spec, &bytes).unwrap();
    assert_eq!(message.mti(), 100);
    assert_eq!(
        message.positions().collect::<Vec<_>>(),
        [2, 3, 4, 11, 35, 37, 41, 43, 48, 52, 55, 102]
    );
    let logical = |position| message.value(position).unwrap().logical().collect::<Vec<u8>>();
    assert_eq!(logical(2), b"4111111111111111");
    assert_eq!(message.u64(4), Some(12_345));
    assert_eq!(message.u64(11), Some(123_456));
    assert_eq!(logical(35), b"4111111111111111=2812");
    assert_eq!(logical(37), b"633012345678");
    assert_eq!(logical(41), b"TERM0001");
    assert_eq!(logical(43), b"Cafe Lisboa");
    assert_eq!(logical(48), b"9203123");
    assert_eq!(logical(55), [0x9F, 0x02, 0x02, 0x12, 0x34]);
    assert_eq!(logical(102), b"ACC-000042");
    assert!(message.value(43).unwrap().eq_logical(b"Cafe Lisboa"));
    assert_eq!(message.value(4).unwrap().logical_len(), 12);
    // Text accessors are for ASCII wire values only.
    assert_eq!(message.str(41), None);
    message.validate().unwrap();
}

#[test]
fn the_ebcdic_bcd_dialect_reports_errors_in_its_own_encodings() {
    let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
    let good = ebcdic_bcd_0100();
    let with = |index: usize, byte: u8| {
        let mut bytes = good.clone();
        bytes[index] = byte;
        bytes
    };
    let error = |bytes: &[u8]| decode_error(&spec, bytes);
    let field = |position| FieldRef::De(position);
    assert_eq!(error(&with(0, 0xC1)).kind, DecodeErrorKind::InvalidMti, "'A100'");
    assert_eq!(
        error(&with(0, 0x30)).kind,
        DecodeErrorKind::InvalidMti,
        "ASCII digits are not EBCDIC"
    );
    assert_eq!(
        error(&with(20, 0x1F)),
        DecodeError {
            field: field(2),
            kind: DecodeErrorKind::InvalidLengthPrefix
        }
    );
    let too_long = DecodeErrorKind::TooLong { max: 10, found: 11 };
    assert_eq!(
        error(&with(20, 0x11)),
        DecodeError {
            field: field(2),
            kind: too_long
        }
    );

    // Structure is fine, but the content is not what the format allows.
    let bcd_letter = with(37, 0x4A); // DE 4's last byte: nibble A
    let message = Message::decode(&spec, &bcd_letter).unwrap();
    assert_eq!(
        message.validate().unwrap_err(),
        DecodeError {
            field: field(4),
            kind: DecodeErrorKind::InvalidCharacter { offset: 11 }
        }
    );
    assert_eq!(message.u64(4), None);
    let unmapped = with(85, 0x41); // DE 43's first character: no ASCII counterpart in cp037
    let message = Message::decode(&spec, &unmapped).unwrap();
    assert_eq!(
        message.validate().unwrap_err(),
        DecodeError {
            field: field(43),
            kind: DecodeErrorKind::InvalidCharacter { offset: 0 }
        }
    );
}

#[test]
fn odd_bcd_digit_counts_read_back_with_their_leading_zero() {
    let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
    // A 15-digit PAN fills 8 bytes; the prefix counts bytes, so the pad nibble is read too.
    let bytes = [
        &[0xF0, 0xF1, 0xF0, 0xF0][..],
        &[0x40, 0, 0, 0, 0, 0, 0, 0],
        &[0x08, 0x04, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11],
    ]
    .concat();
    let message = Message::decode(&spec, &bytes).unwrap();
    assert!(message.value(2).unwrap().eq_logical(b"0411111111111111"));
}
