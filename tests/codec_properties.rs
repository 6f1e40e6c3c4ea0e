//! Properties of the codec, over the contract's spec and an EBCDIC/BCD dialect:
//! - reading never panics, whatever the bytes (random, or valid messages mutated);
//! - a message that decodes re-encodes to exactly its bytes (one wire form per message);
//! - any valid message (random fields, random valid values) survives encode then decode.
//!
//! The cargo-fuzz target in fuzz/ checks the first two for longer; crashing
//! inputs it finds are kept at the bottom of this file as regression tests.

use std::path::Path;
use std::sync::LazyLock;

use antaca::iso8583::{Encoding, FieldDef, Format, Length, Message, OutMessage, Spec};
use proptest::prelude::*;

static CONTRACT: LazyLock<Spec> =
    LazyLock::new(|| Spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/iso8583_2003_ascii.yaml")).unwrap());

/// Every encoding and prefix kind the codec has, in one message pair.
static DIALECT: LazyLock<Spec> = LazyLock::new(|| {
    Spec::from_yaml(
        r#"
name: properties-ebcdic-bcd
id: 9
header_fields:
  - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: EBCDIC}
messages:
  - name: "0200/0210"
    id: 1
    selector: ["0200", "0210"]
    fields:
      - {name: message_type, id: 1, type: Fixed, len: 4, data_encoding: EBCDIC}
      - name: bitmap
        id: 2
        type: Bitmapped
        len: 0
        data_encoding: BINARY
        children:
          - {name: pan, id: 2, position: 2, type: Variable, len: 1, len_encoding: BCD, max_len: 10, data_encoding: BCD, format: n}
          - {name: amount, id: 4, position: 4, type: Fixed, len: 6, data_encoding: BCD, format: n}
          - {name: stan, id: 11, position: 11, type: Fixed, len: 6, data_encoding: EBCDIC, format: n}
          - {name: track2, id: 35, position: 35, type: Variable, len: 1, len_encoding: BINARY, max_len: 37, data_encoding: EBCDIC, format: z}
          - {name: rrn, id: 37, position: 37, type: Fixed, len: 12, data_encoding: EBCDIC, format: an}
          - {name: terminal, id: 41, position: 41, type: Fixed, len: 8, data_encoding: EBCDIC, format: ans}
          - {name: private, id: 48, position: 48, type: Variable, len: 2, len_encoding: BINARY, max_len: 500, data_encoding: EBCDIC, format: ans}
          - {name: pin, id: 52, position: 52, type: Fixed, len: 8, data_encoding: BINARY}
          - {name: icc, id: 55, position: 55, type: Variable, len: 2, len_encoding: BCD, max_len: 255, data_encoding: BINARY}
          - {name: track3, id: 36, position: 36, type: Variable, len: 3, len_encoding: ASCII, max_len: 104, data_encoding: ASCII, format: z}
          - {name: reserved, id: 60, position: 60, type: Variable, len: 3, len_encoding: EBCDIC, max_len: 999, data_encoding: ASCII, format: ans}
          - {name: account, id: 102, position: 102, type: Variable, len: 2, len_encoding: EBCDIC, max_len: 28, data_encoding: EBCDIC, format: ans}
          - {name: amounts, id: 120, position: 120, type: Variable, len: 2, len_encoding: BCD, max_len: 40, data_encoding: BCD, format: n}
          - {name: mac, id: 128, position: 128, type: Fixed, len: 8, data_encoding: BINARY}
"#,
    )
    .unwrap()
});

fn specs() -> [&'static Spec; 2] {
    [&CONTRACT, &DIALECT]
}

/// Valid messages to mutate: the golden fixtures, and one message of the dialect.
static SEEDS: LazyLock<Vec<(usize, Vec<u8>)>> = LazyLock::new(|| {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seeds: Vec<(usize, Vec<u8>)> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "hex"))
        .map(|path| (0, read_fixture(&path)))
        .collect();
    seeds.sort();
    let mut dialect = OutMessage::new(200);
    dialect
        .set_text(2, b"4111111111111111")
        .set_number(4, 12_345)
        .set_number(11, 7)
        .set_text(35, b"4111111111111111=2812")
        .set_text(48, b"9203123")
        .set_text(55, &[0x9F, 0x02, 0x01, 0x00])
        .set_text(102, b"ACC-1")
        .set_text(120, b"0002978");
    let mut bytes = Vec::new();
    dialect.encode_into(&DIALECT, &mut bytes).unwrap();
    seeds.push((1, bytes));
    seeds
});

fn read_fixture(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let digits: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(digits).unwrap()
}

/// Reads `bytes` every way the codec offers; panics only if a property fails.
fn exercise(spec: &Spec, bytes: &[u8]) {
    let strict = Message::decode(spec, bytes);
    let Ok((message, error)) = Message::decode_lenient(spec, bytes) else {
        assert!(strict.is_err());
        return;
    };
    assert_eq!(
        strict.as_ref().err(),
        error.as_ref(),
        "decode and decode_lenient disagree"
    );
    let _ = message.validate();
    for position in message.positions() {
        let value = message.value(position).expect("a present field has a value");
        let _ = message.check_format(position);
        let _ = (
            value.as_str(),
            value.as_u64(),
            value.first_invalid(),
            message.u64(position),
        );
        assert_eq!(value.logical().count(), value.logical_len());
    }

    // What was read can always be written back, and read again.
    let positions: Vec<usize> = message.positions().collect();
    let mut copy = OutMessage::new(message.mti());
    copy.echo(&message, &positions);
    let mut out = Vec::new();
    copy.encode_into(spec, &mut out).expect("re-encoding what was decoded");
    let again = Message::decode(spec, &out).expect("decoding what was re-encoded");
    assert_eq!(again.positions().collect::<Vec<_>>(), positions);
    if strict.is_ok() {
        assert_eq!(out, bytes, "a decoded message re-encodes to its own bytes");
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { index: usize, bit: u8 },
    Set { index: usize, byte: u8 },
    Insert { index: usize, byte: u8 },
    Remove { index: usize },
    Truncate { len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..8u8).prop_map(|(index, bit)| Mutation::Flip { index, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Set { index, byte }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Insert { index, byte }),
        any::<usize>().prop_map(|index| Mutation::Remove { index }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        match *mutation {
            Mutation::Flip { index, bit } if len > 0 => bytes[index % len] ^= 1 << bit,
            Mutation::Set { index, byte } if len > 0 => bytes[index % len] = byte,
            Mutation::Insert { index, byte } => bytes.insert(index % (len + 1), byte),
            Mutation::Remove { index } if len > 0 => {
                bytes.remove(index % len);
            }
            Mutation::Truncate { len: new_len } => bytes.truncate(new_len % (len + 1)),
            _ => {}
        }
    }
    bytes
}

// ---- valid messages ----

/// Per position: whether to include it, a length seed, and whether to hand a
/// fixed numeric field over as a number.
type FieldSeed = (bool, u16, bool);

/// The shortest and longest logical values `def` takes.
fn length_range(def: &FieldDef) -> (usize, usize) {
    match def.length {
        Length::Fixed(wire) if def.format == Format::B => (wire, wire),
        Length::Fixed(wire) => (0, def.encoding.logical_len(wire)),
        Length::Variable { max, .. } => (0, def.encoding.logical_len(max)),
    }
}

/// A value for `def` drawn from `pool`, and how it must read back.
fn draw_value(def: &FieldDef, length_seed: u16, pool: &[u8], start: usize) -> (Vec<u8>, Vec<u8>) {
    const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";
    const TRACK: &[u8] = b"0123456789=D";
    let character = |seed: u8| match def.format {
        Format::N => b'0' + seed % 10,
        Format::An => ALPHANUMERIC[seed as usize % ALPHANUMERIC.len()],
        Format::Ans => 0x20 + seed % 95,
        Format::Z => TRACK[seed as usize % TRACK.len()],
        Format::B => seed,
    };
    let (shortest, longest) = length_range(def);
    let len = shortest + length_seed as usize % (longest - shortest + 1);
    let value: Vec<u8> = (0..len)
        .map(|index| {
            character(if pool.is_empty() {
                index as u8
            } else {
                pool[(start + index) % pool.len()]
            })
        })
        .collect();
    let expected = match def.length {
        Length::Fixed(_) if def.format == Format::B => value.clone(),
        Length::Fixed(_) => {
            let padding = longest - len;
            if def.format.pads_left_with_zeros() || def.encoding == Encoding::BCD {
                [vec![b'0'; padding], value.clone()].concat()
            } else {
                [value.clone(), vec![b' '; padding]].concat()
            }
        }
        // BCD carries whole bytes: an odd digit count reads back with a leading zero.
        Length::Variable { .. } if def.encoding == Encoding::BCD && len % 2 == 1 => [&b"0"[..], &value].concat(),
        Length::Variable { .. } => value.clone(),
    };
    (value, expected)
}

fn encode_then_decode(spec: &Spec, mti_seed: usize, seeds: &[FieldSeed], pool: &[u8]) -> Result<(), TestCaseError> {
    let mtis: Vec<u16> = spec.mtis().collect();
    let mti = mtis[mti_seed % mtis.len()];
    let definition = spec.message(mti).unwrap();
    let mut drawn: Vec<(usize, bool, Vec<u8>, Vec<u8>)> = Vec::new();
    for (index, def) in definition.fields().enumerate() {
        let (include, length_seed, as_number) = seeds[def.position as usize];
        if include {
            let (value, expected) = draw_value(def, length_seed, pool, index * 31);
            let number =
                as_number && def.format == Format::N && matches!(def.length, Length::Fixed(_)) && value.len() <= 19;
            drawn.push((def.position as usize, number, value, expected));
        }
    }

    let mut message = OutMessage::new(mti);
    for (position, number, value, _) in &drawn {
        if *number {
            let parsed = std::str::from_utf8(value).unwrap().parse().unwrap_or(0);
            message.set_number(*position, parsed);
        } else {
            message.set_text(*position, value);
        }
    }
    let mut bytes = Vec::new();
    message
        .encode_into(spec, &mut bytes)
        .map_err(|error| TestCaseError::fail(error.to_string()))?;

    let decoded = Message::decode(spec, &bytes).map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(decoded.mti(), mti);
    prop_assert_eq!(
        decoded.positions().collect::<Vec<_>>(),
        drawn.iter().map(|field| field.0).collect::<Vec<_>>()
    );
    for (position, _, _, expected) in &drawn {
        let value = decoded.value(*position).unwrap();
        prop_assert_eq!(&value.logical().collect::<Vec<u8>>(), expected, "DE {}", position);
    }
    prop_assert!(decoded.validate().is_ok(), "{:?}", decoded.validate());
    let secondary = drawn.iter().any(|field| field.0 > 64);
    prop_assert_eq!(
        bytes[spec.mti.wire_len] & 0x80 != 0,
        secondary,
        "bit 1 announces DE 1 exactly when DE 65-128 are present"
    );
    exercise(spec, &bytes);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(spec in 0..2usize, bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise(specs()[spec], &bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        header in 0..4usize,
        bitmap in any::<[u8; 16]>(),
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let (spec, mti): (&Spec, &[u8]) = [
            (&*CONTRACT, &b"2100"[..]),
            (&CONTRACT, b"2304"),
            (&DIALECT, &[0xF0, 0xF2, 0xF0, 0xF0]),
            (&DIALECT, &[0xF0, 0xF2, 0xF1, 0xF0]),
        ][header];
        exercise(spec, &[mti, &bitmap, &rest].concat());
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        seed in any::<proptest::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let (spec, bytes) = &SEEDS[seed.index(SEEDS.len())];
        exercise(specs()[*spec], &mutate(bytes.clone(), &mutations));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn valid_messages_survive_encode_then_decode(
        spec in 0..2usize,
        mti in any::<usize>(),
        seeds in proptest::collection::vec(any::<FieldSeed>(), 129),
        pool in proptest::collection::vec(any::<u8>(), 0..1_000),
    ) {
        encode_then_decode(specs()[spec], mti, &seeds, &pool)?;
    }
}

#[test]
fn the_seeds_are_valid_messages() {
    assert!(SEEDS.len() >= 8);
    for (spec, bytes) in SEEDS.iter() {
        let message = Message::decode(specs()[*spec], bytes).unwrap();
        message.validate().unwrap();
        exercise(specs()[*spec], bytes);
    }
}

#[test]
fn every_field_at_its_shortest_and_longest_survives() {
    for spec in specs() {
        for (index, mti) in spec.mtis().enumerate() {
            let mut longest = vec![(false, 0, false); 129];
            for def in spec.message(mti).unwrap().fields() {
                let (shortest, most) = length_range(def);
                longest[def.position as usize] = (true, (most - shortest) as u16, false);
            }
            encode_then_decode(spec, index, &longest, b"9").unwrap();
            let shortest = vec![(true, 0, true); 129];
            encode_then_decode(spec, index, &shortest, &[]).unwrap();
        }
    }
}

// ---- regressions: inputs that once broke a property (from fuzzing or proptest) ----

#[test]
fn regression_an_empty_secondary_bitmap_does_not_round_trip() {
    // Bit 1 set, a secondary bitmap of zeros, no fields: decoding accepted it,
    // re-encoding dropped the secondary bitmap. Now a decode error.
    let bytes = [&b"2804"[..], &[0x80, 0, 0, 0, 0, 0, 0, 0], &[0; 8]].concat();
    assert!(Message::decode(&CONTRACT, &bytes).is_err());
    exercise(&CONTRACT, &bytes);
}
