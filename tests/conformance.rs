//! Conformance with an independent implementation, iso8583_rs, reading the
//! same spec file (specs/iso8583_2003_ascii.yaml, via SPEC_FILE from
//! .cargo/config.toml), and the golden wire fixtures in tests/fixtures/.
//!
//! Field values are compared as iso8583_rs shows them: text as it is on the
//! wire (it does not pad Fixed fields, so the corpus spells padding out),
//! binary fields as lowercase hex.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use antaca::iso8583::{Encoding, Format, Message, OutMessage, OutValue, Spec};
use iso8583_rs::iso8583::iso_spec::{self, IsoMsg, new_msg, spec};

/// Field values by position, as iso8583_rs shows them.
type Fields = BTreeMap<usize, String>;

static OURS: LazyLock<Spec> =
    LazyLock::new(|| Spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/iso8583_2003_ascii.yaml")).unwrap());

fn theirs() -> &'static iso_spec::Spec {
    spec("")
}

/// One message of the corpus: what it is and its field values.
struct Case {
    name: String,
    mti: u16,
    fields: Fields,
}

const PAN: &str = "4111111111111111";
const PIN_BLOCK: &str = "8c1f0244e35a9007";
const MAC: &str = "0011223344556677";
/// DE 56: original MTI, STAN, DE 12, and DE 32 as its LL length and digits.
const ORIGINAL: &str = concat!("2100", "123456", "261124233045", "06", "123456");

fn fields(values: &[(usize, &str)]) -> Fields {
    values
        .iter()
        .map(|&(position, value)| (position, value.to_owned()))
        .collect()
}

/// What a card acceptor sends in a request, by processing code and MCC.
fn request(processing_code: &str, mcc: &str, amount: &str, stan: &str) -> Fields {
    fields(&[
        (2, PAN),
        (3, processing_code),
        (4, amount),
        (7, "1124233045"),
        (11, stan),
        (12, "261124233045"),
        (14, "2812"),
        (22, "051"),
        (24, "100"),
        (26, mcc),
        (32, "123456"),
        (37, "633012345678"),
        (41, "TERM0001"),
        (42, "GROCER 42      "),
        (43, "ANTACA GROCER>LISBON PT"),
        (48, "9203123"),
        (49, "978"),
        (52, PIN_BLOCK),
    ])
}

/// A response: the request's echoed fields plus `added`.
fn response(request: &Fields, added: &[(usize, &str)]) -> Fields {
    const ECHOED: [usize; 15] = [2, 3, 4, 6, 7, 11, 12, 24, 32, 37, 41, 42, 49, 51, 56];
    let mut response: Fields = request
        .iter()
        .filter(|(position, _)| ECHOED.contains(position))
        .map(|(&p, v)| (p, v.clone()))
        .collect();
    response.extend(fields(added));
    response
}

fn with(mut base: Fields, changes: &[(usize, &str)]) -> Fields {
    base.extend(fields(changes));
    base
}

fn without(mut base: Fields, positions: &[usize]) -> Fields {
    for position in positions {
        base.remove(position);
    }
    base
}

/// A card lock (2304) of the test PAN.
fn lock_request() -> Fields {
    fields(&[
        (2, PAN),
        (7, "1124234500"),
        (11, "123470"),
        (12, "261124234500"),
        (32, "123456"),
        (48, "930201"),
        (91, "1"),
    ])
}

/// An echo test (2804).
fn echo_request() -> Fields {
    fields(&[
        (7, "1124233000"),
        (11, "000001"),
        (12, "261124233000"),
        (24, "831"),
        (32, "123456"),
    ])
}

/// Realistic messages for every MTI of the spec, per the contract.
fn natural_corpus() -> Vec<(u16, &'static str, Fields)> {
    let purchase = request("000000", "5411", "000000012345", "123456");
    let withdrawal = with(
        request("010000", "6011", "000000020000", "123457"),
        &[(22, "901"), (41, "ATM00042"), (42, "ATM BRANCH 7   ")],
    );
    let refund = without(request("200000", "5411", "000000002500", "123458"), &[52]);
    let balance = with(request("300000", "6011", "000000000000", "123459"), &[(41, "ATM00042")]);
    let converted = with(purchase.clone(), &[(6, "000000013580"), (51, "840"), (11, "123461")]);
    let completion = with(
        without(purchase.clone(), &[14, 22, 26, 43, 48, 52]),
        &[(4, "000000011000"), (11, "123462"), (24, "201"), (56, ORIGINAL)],
    );
    let reversal = with(
        without(purchase.clone(), &[14, 22, 26, 43, 48, 52]),
        &[(4, "000000010000"), (11, "123460"), (24, "401"), (56, ORIGINAL)],
    );
    let full_reversal = with(reversal.clone(), &[(24, "400"), (4, "000000012345"), (64, MAC)]);
    let (lock, echo) = (lock_request(), echo_request());
    let balance_54 = "0002978C000000100000";
    vec![
        (2100, "authorization with PIN and CVC2", purchase.clone()),
        (2101, "repeated authorization", purchase.clone()),
        (
            2110,
            "approval",
            response(&purchase, &[(38, "A1B2C3"), (39, "0000"), (54, balance_54)]),
        ),
        (
            2120,
            "authorization advice with currency conversion",
            without(converted.clone(), &[52]),
        ),
        (2121, "repeated advice", without(converted.clone(), &[52])),
        (2130, "advice recorded", response(&converted, &[(39, "0000")])),
        (2200, "ATM cash withdrawal", withdrawal.clone()),
        (2201, "repeated refund", refund.clone()),
        (
            2210,
            "balance inquiry answered",
            response(&balance, &[(38, "Z9Y8X7"), (39, "0000"), (54, balance_54)]),
        ),
        (2220, "completion", completion.clone()),
        (2221, "repeated completion", completion.clone()),
        (2230, "completion recorded", response(&completion, &[(39, "0000")])),
        (2304, "card lock", lock.clone()),
        (
            2314,
            "card locked",
            with(response(&lock, &[(39, "3000")]), &[(91, "1")]),
        ),
        (2420, "partial reversal", reversal.clone()),
        (2421, "repeated full reversal with MAC", full_reversal),
        (2430, "reversal accepted", response(&reversal, &[(39, "4000")])),
        (2804, "echo test", echo.clone()),
        (2814, "echo accepted", response(&echo, &[(39, "8000")])),
    ]
}

/// The natural corpus, and each message again with DE 91 toggled, so that
/// every MTI is tried with and without the secondary bitmap.
fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for (mti, name, fields) in natural_corpus() {
        let mut toggled = fields.clone();
        if toggled.remove(&91).is_none() {
            toggled.insert(91, "1".to_owned());
        }
        cases.push(Case {
            name: format!("{mti} {name}"),
            mti,
            fields,
        });
        cases.push(Case {
            name: format!("{mti} {name}, DE 91 toggled"),
            mti,
            fields: toggled,
        });
    }
    cases
}

/// Assembles a message with iso8583_rs.
fn assemble_theirs(mti: u16, fields: &Fields) -> Vec<u8> {
    let spec = theirs();
    let segment = spec.get_message_from_header(&mti.to_string()).unwrap();
    let mut message = new_msg(spec, segment);
    message.set("message_type", &mti.to_string()).unwrap();
    for (&position, value) in fields {
        message.set_on(position as u32, value).unwrap();
    }
    message.assemble().unwrap()
}

/// Parses a message with iso8583_rs; returns its MTI and field values.
fn parse_theirs(bytes: &[u8]) -> (u16, Fields) {
    let message: IsoMsg = theirs()
        .parse(&mut bytes.to_vec())
        .unwrap_or_else(|error| panic!("iso8583_rs: {error}"));
    let mti = message
        .get_field_value(&"message_type".to_owned())
        .unwrap()
        .parse()
        .unwrap();
    let fields = (2..=128u32)
        .filter(|&position| position != 65 && message.bmp.is_on(position))
        .map(|position| (position as usize, message.bmp_child_value(position).unwrap()))
        .collect();
    (mti, fields)
}

/// Decodes a message with our codec; returns its MTI and field values.
fn decode_ours(bytes: &[u8]) -> (u16, Fields) {
    let message = Message::decode(&OURS, bytes).unwrap_or_else(|error| panic!("antaca: {error}"));
    message.validate().unwrap();
    let fields = message
        .positions()
        .map(|position| {
            let value = message.value(position).unwrap();
            let shown = match value.encoding {
                Encoding::BINARY => hex::encode(value.wire),
                _ => value.as_str().unwrap().to_owned(),
            };
            (position, shown)
        })
        .collect();
    (message.mti(), fields)
}

/// How values are handed to our encoder.
#[derive(Debug, Clone, Copy)]
enum Given {
    /// As on the wire: padded.
    Padded,
    /// As an application has them: numbers as numbers, text without its padding.
    Natural,
}

/// Encodes a message with our codec.
fn encode_ours(mti: u16, fields: &Fields, given: Given) -> Vec<u8> {
    let binary: BTreeMap<usize, Vec<u8>> = fields
        .iter()
        .filter(|(position, _)| definition(mti, **position).encoding == Encoding::BINARY)
        .map(|(&position, value)| (position, hex::decode(value).unwrap()))
        .collect();
    let mut message = OutMessage::new(mti);
    for (&position, value) in fields {
        let def = definition(mti, position);
        let fixed = matches!(def.length, antaca::iso8583::Length::Fixed(_));
        let out = match (given, def.format) {
            (_, Format::B) => OutValue::Text(&binary[&position]),
            (Given::Natural, Format::N) if fixed => OutValue::Number(value.parse().unwrap()),
            (Given::Natural, Format::An | Format::Ans) if fixed => OutValue::Text(value.trim_end().as_bytes()),
            _ => OutValue::Text(value.as_bytes()),
        };
        message.set(position, out);
    }
    let mut out = Vec::new();
    message
        .encode_into(&OURS, &mut out)
        .unwrap_or_else(|error| panic!("antaca: {error}"));
    out
}

fn definition(mti: u16, position: usize) -> &'static antaca::iso8583::FieldDef {
    OURS.message(mti).unwrap().field(position).unwrap()
}

#[test]
fn the_corpus_covers_every_mti_of_the_spec() {
    let corpus: Vec<u16> = natural_corpus().iter().map(|(mti, _, _)| *mti).collect();
    assert_eq!(corpus, OURS.mtis().collect::<Vec<_>>());
    assert_eq!(
        corpus,
        [
            2100, 2101, 2110, 2120, 2121, 2130, 2200, 2201, 2210, 2220, 2221, 2230, 2304, 2314, 2420, 2421, 2430, 2804,
            2814
        ]
    );
    // Both bitmap shapes for every MTI.
    for mti in corpus {
        let shapes: Vec<bool> = corpus_for(mti)
            .map(|case| case.fields.keys().any(|&p| p > 64))
            .collect();
        assert_eq!(shapes.len(), 2);
        assert_ne!(shapes[0], shapes[1], "{mti}");
    }
}

fn corpus_for(mti: u16) -> impl Iterator<Item = Case> {
    corpus().into_iter().filter(move |case| case.mti == mti)
}

#[test]
fn messages_assembled_by_iso8583_rs_decode_with_our_codec() {
    for case in corpus() {
        let bytes = assemble_theirs(case.mti, &case.fields);
        let (mti, fields) = decode_ours(&bytes);
        assert_eq!(mti, case.mti, "{}", case.name);
        assert_eq!(fields, case.fields, "{}", case.name);
        let secondary = bytes[4] & 0x80 != 0;
        assert_eq!(secondary, case.fields.keys().any(|&p| p > 64), "{}", case.name);
    }
}

#[test]
fn messages_we_encode_parse_with_iso8583_rs() {
    for case in corpus() {
        for given in [Given::Padded, Given::Natural] {
            let bytes = encode_ours(case.mti, &case.fields, given);
            let (mti, fields) = parse_theirs(&bytes);
            assert_eq!(mti, case.mti, "{} ({given:?})", case.name);
            assert_eq!(fields, case.fields, "{} ({given:?})", case.name);
        }
    }
}

#[test]
fn both_encoders_write_identical_bytes() {
    for case in corpus() {
        let theirs = assemble_theirs(case.mti, &case.fields);
        for given in [Given::Padded, Given::Natural] {
            let ours = encode_ours(case.mti, &case.fields, given);
            assert_eq!(hex::encode(&ours), hex::encode(&theirs), "{} ({given:?})", case.name);
        }
    }
}

#[test]
fn echoing_a_request_read_by_our_codec_matches_iso8583_rs_echo_from() {
    const ECHOED: [u32; 12] = [2, 3, 4, 7, 11, 12, 24, 32, 37, 41, 42, 49];
    let (_, _, purchase) = natural_corpus().remove(0);
    let request_bytes = assemble_theirs(2100, &purchase);

    let request = theirs().parse(&mut request_bytes.clone()).unwrap();
    let mut answer = new_msg(theirs(), theirs().get_message_from_header("2110").unwrap());
    answer.set("message_type", "2110").unwrap();
    answer.echo_from(&request, &ECHOED).unwrap();
    answer.set_on(39, "1016").unwrap();
    let theirs = answer.assemble().unwrap();

    let request = Message::decode(&OURS, &request_bytes).unwrap();
    let mut answer = OutMessage::new(2110);
    answer
        .echo(&request, &ECHOED.map(|position| position as usize))
        .set_number(39, 1016);
    let mut ours = Vec::new();
    answer.encode_into(&OURS, &mut ours).unwrap();
    assert_eq!(hex::encode(ours), hex::encode(theirs));
}

// ---- golden fixtures ----

fn fixture_paths() -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "hex"))
        .collect();
    paths.sort();
    paths
}

/// A fixture's bytes: hex digits, with whitespace and `#` comment lines ignored.
fn read_fixture(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let digits: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(&digits).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_fixtures_are_all_there() {
    let names: Vec<String> = fixture_paths()
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "2100_authorization_pin_cvc2.hex",
        "2110_approval.hex",
        "2304_card_lock.hex",
        "2420_partial_reversal.hex",
        "2430_reversal_accepted.hex",
        "2804_echo_test.hex",
        "2814_echo_accepted.hex",
    ] {
        assert!(names.iter().any(|name| name == expected), "missing {expected}");
    }
}

#[test]
fn fixtures_round_trip_byte_for_byte_through_both_codecs() {
    for path in fixture_paths() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = read_fixture(&path);
        let (mti, ours) = decode_ours(&bytes);
        assert!(name.starts_with(&mti.to_string()), "{name} holds a {mti}");

        let (their_mti, theirs) = parse_theirs(&bytes);
        assert_eq!(
            (their_mti, &theirs),
            (mti, &ours),
            "{name}: the two codecs read different values"
        );

        for given in [Given::Padded, Given::Natural] {
            assert_eq!(
                hex::encode(encode_ours(mti, &ours, given)),
                hex::encode(&bytes),
                "{name}: antaca ({given:?})"
            );
        }
        assert_eq!(
            hex::encode(assemble_theirs(mti, &theirs)),
            hex::encode(&bytes),
            "{name}: iso8583_rs"
        );
    }
}

#[test]
fn fixture_values_are_the_ones_their_comments_name() {
    // Spot checks that the hand-written bytes say what the contract means.
    let read = |name: &str| {
        decode_ours(&read_fixture(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name),
        ))
        .1
    };
    let authorization = read("2100_authorization_pin_cvc2.hex");
    assert_eq!(authorization[&48], "9203123", "CVC2 123 under tag 92");
    assert_eq!(authorization[&52], PIN_BLOCK);
    let approval = read("2110_approval.hex");
    assert_eq!(
        (approval[&39].as_str(), approval[&54].as_str()),
        ("0000", "0002978C000000100000")
    );
    let reversal = read("2420_partial_reversal.hex");
    assert_eq!((reversal[&24].as_str(), reversal[&4].as_str()), ("401", "000000010000"));
    assert_eq!(
        reversal[&56],
        format!("2100123456{}06{}", authorization[&12], authorization[&32])
    );
    let lock = read("2304_card_lock.hex");
    assert_eq!((lock[&91].as_str(), lock[&48].as_str()), ("1", "930201"));
    assert_eq!(read("2804_echo_test.hex")[&24], "831");
}
