//! Unit tests of the spec loader, and the spec fixtures the codec's tests share.

use super::*;

/// Another dialect, written inline: a 1987-style EBCDIC MTI, BCD numbers,
/// BCD, binary and EBCDIC length prefixes. Shared by the decode and encode
/// tests, so that "another dialect is a spec file away" is tested.
pub(crate) const EBCDIC_BCD_SPEC: &str = r#"
name: test-ebcdic-bcd
id: 2
header_fields:
  - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: EBCDIC}
messages:
  - name: "0100/0110"
    id: 1
    selector: ["0100", "0110"]
    fields:
      - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: EBCDIC}
      - name: bitmap
        id: 2
        type: Bitmapped
        len: 0
        data_encoding: BINARY
        children:
          - {name: pan, id: 2, position: 2, type: Variable, len: 1, len_encoding: BCD, max_len: 10, data_encoding: BCD, format: n}
          - {name: processing_code, id: 3, position: 3, type: Fixed, len: 3, data_encoding: BCD, format: n}
          - {name: amount, id: 4, position: 4, type: Fixed, len: 6, data_encoding: BCD, format: n}
          - {name: stan, id: 11, position: 11, type: Fixed, len: 3, data_encoding: BCD, format: n}
          - {name: track2, id: 35, position: 35, type: Variable, len: 1, len_encoding: BINARY, max_len: 37, data_encoding: EBCDIC, format: z}
          - {name: rrn, id: 37, position: 37, type: Fixed, len: 12, data_encoding: EBCDIC, format: an}
          - {name: response_code, id: 39, position: 39, type: Fixed, len: 2, data_encoding: EBCDIC, format: an}
          - {name: terminal_id, id: 41, position: 41, type: Fixed, len: 8, data_encoding: EBCDIC, format: ans}
          - {name: name_location, id: 43, position: 43, type: Variable, len: 2, len_encoding: EBCDIC, max_len: 40, data_encoding: EBCDIC, format: ans}
          - {name: private_data, id: 48, position: 48, type: Variable, len: 2, len_encoding: BINARY, max_len: 999, data_encoding: EBCDIC, format: ans}
          - {name: pin_block, id: 52, position: 52, type: Fixed, len: 8, data_encoding: BINARY}
          - {name: icc_data, id: 55, position: 55, type: Variable, len: 2, len_encoding: BCD, max_len: 255, data_encoding: BINARY}
          - {name: account_id, id: 102, position: 102, type: Variable, len: 2, len_encoding: EBCDIC, max_len: 28, data_encoding: EBCDIC, format: ans}
"#;

/// A 0100 of the EBCDIC/BCD dialect, byte by byte from the spec above
/// (not produced by the encoder, which the encode tests compare with it).
pub(crate) fn ebcdic_bcd_0100() -> Vec<u8> {
    let parts: &[&[u8]] = &[
        &[0xF0, 0xF1, 0xF0, 0xF0], // MTI "0100" in EBCDIC
        // DE 1 (secondary), 2, 3, 4 | 11 | - | - | 35, 37 | 41, 43, 48 | 52, 55 | -
        &[0xF0, 0x20, 0x00, 0x00, 0x28, 0xA1, 0x12, 0x00],
        &[0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00], // DE 102
        &[0x08, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11], // DE 2: BCD prefix (bytes), 16 digits
        &[0x00, 0x00, 0x00],                               // DE 3 "000000"
        &[0x00, 0x00, 0x00, 0x01, 0x23, 0x45],             // DE 4 "000000012345"
        &[0x12, 0x34, 0x56],                               // DE 11 "123456"
        // DE 35: binary prefix 21, "4111111111111111=2812" in EBCDIC
        &[
            0x15, 0xF4, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0xF1, 0x7E,
            0xF2, 0xF8, 0xF1, 0xF2,
        ],
        &[0xF6, 0xF3, 0xF3, 0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8], // DE 37 "633012345678"
        &[0xE3, 0xC5, 0xD9, 0xD4, 0xF0, 0xF0, 0xF0, 0xF1],                         // DE 41 "TERM0001"
        // DE 43: EBCDIC prefix "11", "Cafe Lisboa"
        &[
            0xF1, 0xF1, 0xC3, 0x81, 0x86, 0x85, 0x40, 0xD3, 0x89, 0xA2, 0x82, 0x96, 0x81,
        ],
        &[0x00, 0x07, 0xF9, 0xF2, 0xF0, 0xF3, 0xF1, 0xF2, 0xF3], // DE 48: binary prefix 7, "9203123"
        &[0x0A, 0x1B, 0x2C, 0x3D, 0x4E, 0x5F, 0x60, 0x71],       // DE 52
        &[0x00, 0x05, 0x9F, 0x02, 0x02, 0x12, 0x34],             // DE 55: BCD prefix 0005, 5 bytes
        // DE 102: EBCDIC prefix "10", "ACC-000042"
        &[0xF1, 0xF0, 0xC1, 0xC3, 0xC3, 0x60, 0xF0, 0xF0, 0xF0, 0xF0, 0xF4, 0xF2],
    ];
    parts.concat()
}

pub(crate) fn default_spec() -> Spec {
    Spec::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/iso8583_2003_ascii.yaml")).unwrap()
}

/// A one-message spec whose `FIELD` line is replaced by a field under test.
const TEMPLATE: &str = r#"
name: test
id: 1
header_fields:
  - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: ASCII}
messages:
  - name: auth
    id: 1
    selector: ["2100", "2110"]
    fields:
      - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: ASCII}
      - name: bitmap
        id: 2
        type: Bitmapped
        len: 0
        data_encoding: BINARY
        children:
          - {name: stan, id: 11, position: 11, type: Fixed, len: 6, data_encoding: ASCII, format: n}
          - FIELD
"#;

fn with_field(field: &str) -> String {
    TEMPLATE.replace("FIELD", field)
}

fn without_field() -> String {
    TEMPLATE.replace("          - FIELD\n", "")
}

/// Asserts that `yaml` is rejected with an error naming `field` of
/// message `message` and a problem that mentions `problem`.
#[track_caller]
fn assert_rejected(yaml: &str, message: &str, field: &str, problem: &str) {
    match Spec::from_yaml(yaml) {
        Err(error @ SpecError::Field { .. }) => {
            let SpecError::Field {
                message: m,
                field: f,
                problem: p,
            } = &error
            else {
                unreachable!()
            };
            assert_eq!((m.as_str(), f.as_str()), (message, field), "{error}");
            assert!(p.contains(problem), "{p:?} does not mention {problem:?}");
            let shown = error.to_string();
            assert!(shown.contains(message) && shown.contains(field), "{shown}");
        }
        other => panic!("expected an error naming {field:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_field_rejected(field_yaml: &str, problem: &str) {
    assert_rejected(&with_field(field_yaml), "auth", "bad", problem);
}

#[test]
fn the_template_itself_is_valid() {
    let spec = Spec::from_yaml(&with_field(
            "{name: pan, id: 2, position: 2, type: Variable, len: 2, len_encoding: ASCII, max_len: 19, data_encoding: ASCII, format: n}",
        ))
        .unwrap();
    assert_eq!(spec.mtis().collect::<Vec<_>>(), [2100, 2110]);
}

#[test]
fn the_default_spec_defines_every_message_of_the_contract() {
    let spec = default_spec();
    let mtis: Vec<u16> = spec.mtis().collect();
    assert_eq!(
        mtis,
        [
            2100, 2101, 2110, 2120, 2121, 2130, 2200, 2201, 2210, 2220, 2221, 2230, 2304, 2314, 2420, 2421, 2430, 2804,
            2814
        ]
    );
    assert_eq!(
        spec.mti,
        MtiDef {
            encoding: Encoding::ASCII,
            wire_len: 4
        }
    );
    let positions = [
        2, 3, 4, 6, 7, 11, 12, 14, 22, 24, 26, 32, 37, 38, 39, 41, 42, 43, 48, 49, 51, 52, 54, 56, 64, 91,
    ];
    for mti in mtis {
        let message = spec.message(mti).unwrap();
        let defined: Vec<usize> = message.fields().map(|def| def.position as usize).collect();
        assert_eq!(defined, positions, "{}", message.name);
    }
    assert!(spec.message(2400).is_none() && spec.message(9999).is_none());
}

#[test]
fn the_default_spec_has_the_contract_formats() {
    let spec = default_spec();
    let message = spec.message(2100).unwrap();
    let def = |position| message.field(position).unwrap();
    let ascii_variable = |prefix_bytes, max| Length::Variable {
        prefix_bytes,
        prefix_encoding: Encoding::ASCII,
        max,
    };
    let expected: [(usize, Length, Encoding, Format); 10] = [
        (2, ascii_variable(2, 19), Encoding::ASCII, Format::N),
        (4, Length::Fixed(12), Encoding::ASCII, Format::N),
        (37, Length::Fixed(12), Encoding::ASCII, Format::An),
        (41, Length::Fixed(8), Encoding::ASCII, Format::Ans),
        (43, ascii_variable(2, 99), Encoding::ASCII, Format::Ans),
        (48, ascii_variable(3, 999), Encoding::ASCII, Format::Ans),
        (52, Length::Fixed(8), Encoding::BINARY, Format::B),
        (54, ascii_variable(3, 120), Encoding::ASCII, Format::Ans),
        (56, ascii_variable(2, 41), Encoding::ASCII, Format::N),
        (91, Length::Fixed(1), Encoding::ASCII, Format::An),
    ];
    for (position, length, encoding, format) in expected {
        assert_eq!(
            (def(position).length, def(position).encoding, def(position).format),
            (length, encoding, format),
            "DE {position}"
        );
    }
    assert_eq!(def(2).name, "pan");
    assert!(message.field(5).is_none() && message.field(1).is_none() && message.field(65).is_none());
}

#[test]
fn the_ebcdic_bcd_dialect_compiles() {
    let spec = Spec::from_yaml(EBCDIC_BCD_SPEC).unwrap();
    assert_eq!(
        spec.mti,
        MtiDef {
            encoding: Encoding::EBCDIC,
            wire_len: 4
        }
    );
    assert_eq!(spec.mtis().collect::<Vec<_>>(), [100, 110]);
    let message = spec.message(100).unwrap();
    let pan = message.field(2).unwrap();
    assert_eq!(
        pan.length,
        Length::Variable {
            prefix_bytes: 1,
            prefix_encoding: Encoding::BCD,
            max: 10
        }
    );
    assert_eq!((pan.encoding, pan.format), (Encoding::BCD, Format::N));
    // No format given: binary fields default to b.
    assert_eq!(message.field(52).unwrap().format, Format::B);
    let icc = message.field(55).unwrap();
    assert_eq!(
        icc.length,
        Length::Variable {
            prefix_bytes: 2,
            prefix_encoding: Encoding::BCD,
            max: 255
        }
    );
}

#[test]
fn a_bcd_message_type_is_two_bytes() {
    let yaml = without_field().replace("len: 4, data_encoding: ASCII}", "len: 2, data_encoding: BCD}");
    let spec = Spec::from_yaml(&yaml).unwrap();
    assert_eq!(
        spec.mti,
        MtiDef {
            encoding: Encoding::BCD,
            wire_len: 2
        }
    );
}

#[test]
fn positions_outside_the_data_elements_are_rejected() {
    for position in [0, 1, 65, 129, 200] {
        assert_field_rejected(
            &format!("{{name: bad, id: 9, position: {position}, type: Fixed, len: 2, data_encoding: ASCII}}"),
            &format!("position {position}"),
        );
    }
    assert_field_rejected(
        "{name: bad, id: 9, type: Fixed, len: 2, data_encoding: ASCII}",
        "needs a position",
    );
}

#[test]
fn a_position_defined_twice_is_rejected() {
    assert_field_rejected(
        "{name: bad, id: 9, position: 11, type: Fixed, len: 6, data_encoding: ASCII}",
        "position 11 defined twice",
    );
}

#[test]
fn a_variable_field_needs_len_encoding() {
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Variable, len: 2, data_encoding: ASCII}",
        "len_encoding",
    );
}

#[test]
fn max_len_must_fit_the_length_prefix() {
    let cases = [
        ("len: 2, len_encoding: ASCII, max_len: 100", "max_len 100"),
        ("len: 1, len_encoding: BCD, max_len: 100", "at most 99"),
        ("len: 1, len_encoding: BINARY, max_len: 256", "at most 255"),
        ("len: 2, len_encoding: ASCII, max_len: 0", "max_len 0"),
    ];
    for (length, problem) in cases {
        assert_field_rejected(
            &format!("{{name: bad, id: 9, position: 2, type: Variable, {length}, data_encoding: ASCII}}"),
            problem,
        );
    }
}

#[test]
fn unsupported_length_prefix_sizes_are_rejected() {
    for length in [
        "len: 4, len_encoding: ASCII",
        "len: 0, len_encoding: EBCDIC",
        "len: 3, len_encoding: BINARY",
        "len: 3, len_encoding: BCD",
    ] {
        assert_field_rejected(
            &format!("{{name: bad, id: 9, position: 2, type: Variable, {length}, data_encoding: ASCII}}"),
            "length prefix",
        );
    }
}

#[test]
fn unknown_field_types_are_rejected() {
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Fixd, len: 2, data_encoding: ASCII}",
        "\"Fixd\"",
    );
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Bitmapped, len: 2, data_encoding: ASCII}",
        "\"Bitmapped\"",
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_place_and_line() {
    let yaml = with_field("{name: bad, id: 9, position: 2, type: Fixed, len: 2, data_encoding: ASCII, maxlen: 5}");
    match Spec::from_yaml(&yaml) {
        Err(SpecError::Yaml(message)) => {
            // The YAML reader names the key and where the field is, not the field's name.
            for part in ["`maxlen`", "messages[0].fields[1].children[1]", "line 19"] {
                assert!(message.contains(part), "{message:?} does not mention {part:?}");
            }
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
}

#[test]
fn unknown_encodings_and_formats_are_rejected() {
    for field in [
        "{name: bad, id: 9, position: 2, type: Fixed, len: 2, data_encoding: UTF8}",
        "{name: bad, id: 9, position: 2, type: Fixed, len: 2, data_encoding: ASCII, format: x}",
    ] {
        assert!(
            matches!(Spec::from_yaml(&with_field(field)), Err(SpecError::Yaml(_))),
            "{field}"
        );
    }
}

#[test]
fn a_duplicate_selector_is_rejected() {
    let yaml = format!(
        "{}{}",
        with_field(
            "{name: pan, id: 2, position: 2, type: Variable, len: 2, len_encoding: ASCII, data_encoding: ASCII}"
        ),
        r#"  - name: advice
    id: 2
    selector: ["2120", "2110"]
    fields:
      - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: ASCII}
      - {name: bitmap, id: 2, type: Bitmapped, len: 0, data_encoding: BINARY, children: []}
"#
    );
    assert_rejected(&yaml, "advice", "selector", "MTI 2110 is selected by two messages");
}

#[test]
fn a_selector_must_be_four_digits() {
    for selector in ["210", "21000", "21x0", "-100"] {
        let yaml = without_field().replace("\"2110\"", &format!("{selector:?}"));
        assert_rejected(&yaml, "auth", "selector", "four-digit");
    }
}

#[test]
fn formats_must_suit_the_encoding() {
    let cases = [
        ("data_encoding: BCD, format: an", "BCD encoding carries only format n"),
        ("data_encoding: BINARY, format: n", "format b goes with BINARY"),
        ("data_encoding: ASCII, format: b", "format b goes with BINARY"),
    ];
    for (encoding, problem) in cases {
        assert_field_rejected(
            &format!("{{name: bad, id: 9, position: 2, type: Fixed, len: 2, {encoding}}}"),
            problem,
        );
    }
}

#[test]
fn fixed_lengths_are_checked() {
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Fixed, len: 0, data_encoding: ASCII}",
        "fixed len 0",
    );
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Fixed, len: 1000, data_encoding: ASCII}",
        "fixed len 1000",
    );
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Fixed, len: 2, max_len: 2, data_encoding: ASCII}",
        "max_len applies to Variable fields only",
    );
}

#[test]
fn nested_fields_are_rejected() {
    assert_field_rejected(
        "{name: bad, id: 9, position: 2, type: Fixed, len: 2, data_encoding: ASCII, children: [{name: sub, id: 1, type: Fixed, len: 1, data_encoding: ASCII}]}",
        "nested",
    );
}

#[test]
fn message_structure_is_checked() {
    let text_bitmap = without_field().replace(
        "data_encoding: BINARY\n        children",
        "data_encoding: ASCII\n        children",
    );
    assert_rejected(&text_bitmap, "auth", "bitmap", "only binary bitmaps");

    let no_bitmap = without_field().replace("type: Bitmapped", "type: Fixed");
    assert_rejected(&no_bitmap, "auth", "fields", "Bitmapped");

    let other_mti = without_field().replacen(
        "      - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: ASCII}",
        "      - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: EBCDIC}",
        1,
    );
    assert_rejected(&other_mti, "auth", "message_type", "differs from the header");
}

#[test]
fn the_message_type_must_be_four_characters_or_two_bcd_bytes() {
    let binary = without_field().replace("len: 4, data_encoding: ASCII}", "len: 4, data_encoding: BINARY}");
    assert_rejected(&binary, "header_fields", "message_type", "binary message type");
    let short = without_field().replace("len: 4, data_encoding: ASCII}", "len: 3, data_encoding: ASCII}");
    assert_rejected(&short, "header_fields", "message_type", "Fixed with len 4");
    let no_header = without_field().replace(
        "header_fields:\n  - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: ASCII}",
        "header_fields: []",
    );
    assert_rejected(&no_header, "header_fields", "message_type", "exactly one");
}

#[test]
fn a_spec_without_messages_is_rejected() {
    let yaml = "name: t\nid: 1\nheader_fields:\n  - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: ASCII}\nmessages: []\n";
    assert!(matches!(Spec::from_yaml(yaml), Err(SpecError::Spec(problem)) if problem.contains("no messages")));
}

#[test]
fn a_missing_file_is_named() {
    let error = Spec::load(std::path::Path::new("specs/no_such_spec.yaml")).unwrap_err();
    assert!(matches!(error, SpecError::Io { .. }));
    assert!(error.to_string().contains("specs/no_such_spec.yaml"), "{error}");
}
