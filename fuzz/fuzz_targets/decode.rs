//! Fuzzes the decoder with the contract's spec and an EBCDIC/BCD dialect:
//! reading any bytes must not panic; whatever was read must re-encode, and a
//! message that decodes whole must re-encode to exactly its bytes.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use antaca::iso8583::{Message, OutMessage, Spec};
use libfuzzer_sys::fuzz_target;

static CONTRACT: LazyLock<Spec> = LazyLock::new(|| {
    Spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/iso8583_2003_ascii.yaml")).unwrap()
});

/// Every encoding and length prefix kind, so that the fuzzer reaches EBCDIC and BCD paths too.
static DIALECT: LazyLock<Spec> = LazyLock::new(|| {
    Spec::from_yaml(
        r#"
name: fuzz-ebcdic-bcd
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
          - {name: private, id: 48, position: 48, type: Variable, len: 2, len_encoding: BINARY, max_len: 500, data_encoding: EBCDIC, format: ans}
          - {name: icc, id: 55, position: 55, type: Variable, len: 2, len_encoding: BCD, max_len: 255, data_encoding: BINARY}
          - {name: reserved, id: 60, position: 60, type: Variable, len: 3, len_encoding: EBCDIC, max_len: 999, data_encoding: ASCII, format: ans}
          - {name: account, id: 102, position: 102, type: Variable, len: 2, len_encoding: EBCDIC, max_len: 28, data_encoding: EBCDIC, format: ans}
          - {name: mac, id: 128, position: 128, type: Fixed, len: 8, data_encoding: BINARY}
"#,
    )
    .unwrap()
});

fn exercise(spec: &Spec, bytes: &[u8], out: &mut Vec<u8>) {
    let whole = Message::decode(spec, bytes).is_ok();
    let Ok((message, _)) = Message::decode_lenient(spec, bytes) else {
        assert!(!whole);
        return;
    };
    let _ = message.validate();
    let positions: Vec<usize> = message.positions().collect();
    for &position in &positions {
        let value = message.value(position).unwrap();
        assert_eq!(value.logical().count(), value.logical_len());
        let _ = (value.as_u64(), value.as_str(), value.first_invalid());
    }
    let mut copy = OutMessage::new(message.mti());
    copy.echo(&message, &positions);
    copy.encode_into(spec, out).expect("what was decoded re-encodes");
    let again = Message::decode(spec, out).expect("what was re-encoded decodes");
    assert!(again.positions().eq(positions.iter().copied()));
    if whole {
        assert_eq!(&out[..], bytes, "a decoded message re-encodes to its own bytes");
    }
}

fuzz_target!(|bytes: &[u8]| {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    exercise(&CONTRACT, bytes, &mut out);
    exercise(&DIALECT, bytes, &mut out);
});
