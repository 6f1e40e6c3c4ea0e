//! The codec against iso8583_rs, doing the same work on the same bytes: read
//! a 2100 authorization, then build and write its 2110 approval (the echoed
//! fields plus DE 38, 39 and 54).
//!
//! `cargo bench --bench codec -- --warm-up-time 2 --measurement-time 5`

use std::hint::black_box;
use std::path::Path;

use antaca::iso8583::{Message, OutMessage, Spec};
use criterion::{Criterion, criterion_group, criterion_main};
use iso8583_rs::iso8583::iso_spec::{self, new_msg};

/// The fields a 2110 echoes from its 2100, per the contract.
const ECHOED: [u32; 12] = [2, 3, 4, 7, 11, 12, 24, 32, 37, 41, 42, 49];

/// The available balance reported in DE 54, in minor units.
const BALANCE: u64 = 100_000;

/// A chip purchase with CVC2 (DE 48 tag 92), as iso8583_rs assembles it.
fn request() -> Vec<u8> {
    let spec = iso_spec::spec("");
    let mut message = new_msg(spec, spec.get_message_from_header("2100").unwrap());
    message.set("message_type", "2100").unwrap();
    let fields: [(u32, &str); 16] = [
        (2, "4111111111111111"),
        (3, "000000"),
        (4, "000000012345"),
        (7, "1124233045"),
        (11, "123456"),
        (12, "261124233045"),
        (14, "2812"),
        (22, "051"),
        (24, "100"),
        (26, "5411"),
        (32, "123456"),
        (37, "633012345678"),
        (41, "TERM0001"),
        (42, "GROCER 42      "),
        (48, "9203123"),
        (49, "978"),
    ];
    for (position, value) in fields {
        message.set_on(position, value).unwrap();
    }
    message.assemble().unwrap()
}

/// DE 54: account type 00, amount type 02 (available), currency, sign, amount n12.
fn additional_amounts(currency: &[u8], balance: u64) -> [u8; 20] {
    let mut field = *b"0002000C000000000000";
    field[4..7].copy_from_slice(currency);
    let mut rest = balance;
    for digit in field[8..].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    field
}

fn antaca_approval(spec: &Spec, request: &[u8], balance: u64, out: &mut Vec<u8>) {
    let request = Message::decode(spec, request).unwrap();
    let balance = additional_amounts(request.raw(49).unwrap(), balance);
    let mut response = OutMessage::new(request.mti() + 10);
    response
        .echo(&request, &ECHOED.map(|position| position as usize))
        .set_text(38, b"A1B2C3")
        .set_text(39, b"0000")
        .set_text(54, &balance);
    response.encode_into(spec, out).unwrap();
}

fn iso8583_rs_approval(spec: &'static iso_spec::Spec, request: &[u8], balance: u64) -> Vec<u8> {
    // iso8583_rs parses from a `&mut Vec<u8>`: copying the bytes is part of its price.
    let request = spec.parse(&mut request.to_vec()).unwrap();
    let mut response = new_msg(spec, spec.get_message_from_header("2110").unwrap());
    response.set("message_type", "2110").unwrap();
    response.echo_from(&request, &ECHOED).unwrap();
    let currency = request.bmp_child_value(49).unwrap();
    response.set_on(38, "A1B2C3").unwrap();
    response.set_on(39, "0000").unwrap();
    response.set_on(54, &format!("0002{currency}C{balance:012}")).unwrap();
    response.assemble().unwrap()
}

fn codec(c: &mut Criterion) {
    let spec = Spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/iso8583_2003_ascii.yaml")).unwrap();
    let their_spec = iso_spec::spec("");
    let request = request();

    // Same work: both must write the same approval.
    let mut out = Vec::with_capacity(512);
    antaca_approval(&spec, &request, BALANCE, &mut out);
    assert_eq!(out, iso8583_rs_approval(their_spec, &request, BALANCE));

    let mut group = c.benchmark_group("codec");
    group.bench_function("antaca", |b| {
        b.iter(|| antaca_approval(&spec, black_box(&request), black_box(BALANCE), &mut out));
    });
    group.bench_function("iso8583_rs", |b| {
        b.iter(|| iso8583_rs_approval(their_spec, black_box(&request), black_box(BALANCE)));
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
