//! Messages on the wire, built and read with iso8583_rs, framed with the
//! contract's 2-byte length header.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, ensure};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use iso8583_rs::iso8583::iso_spec::{IsoMsg, new_msg, spec};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// The data elements of the spec file (iso8583_rs panics on a position its spec lacks).
pub const POSITIONS: [u32; 26] = [
    2, 3, 4, 6, 7, 11, 12, 14, 22, 24, 26, 32, 37, 38, 39, 41, 42, 43, 48, 49, 51, 52, 54, 56, 64, 91,
];

/// The contract's largest message, after the length header.
pub const MESSAGE_BYTES_MAX: usize = 8192;

pub fn rerun_with_spec_file(spec_path: &Path) -> ExitCode {
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            eprintln!("simulator: cannot find its own executable: {error}");
            return ExitCode::FAILURE;
        }
    };
    match std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .env("SPEC_FILE", spec_path)
        .status()
    {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(error) => {
            eprintln!("simulator: cannot run itself again: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A message to send: MTI and (position, value) pairs, values as iso8583_rs
/// takes them (fixed fields already padded, binary fields in hex).
pub fn build(mti: &str, fields: &[(u32, &str)]) -> anyhow::Result<Vec<u8>> {
    let spec = spec("");
    let segment = spec
        .get_message_from_header(mti)
        .map_err(|error| anyhow!("MTI {mti}: {}", error.msg))?;
    let mut message = new_msg(spec, segment);
    message.set("message_type", mti).map_err(|error| anyhow!(error.msg))?;
    for (position, value) in fields {
        message
            .set_on(*position, value)
            .map_err(|error| anyhow!("DE {position}: {}", error.msg))?;
    }
    message.assemble().map_err(|error| anyhow!(error.msg))
}

/// Parses a received message with iso8583_rs.
pub fn parse(bytes: &[u8]) -> anyhow::Result<IsoMsg> {
    let mut data = bytes.to_vec();
    parse_owned(&mut data)
}

/// Parses with iso8583_rs from a buffer the caller reuses.
pub fn parse_owned(data: &mut Vec<u8>) -> anyhow::Result<IsoMsg> {
    spec("")
        .parse(data)
        .map_err(|error| anyhow!("unreadable answer: {}", error.msg))
}

/// A field of a parsed message as text, if present.
pub fn field(message: &IsoMsg, position: u32) -> Option<String> {
    message.bmp_child_value(position).ok()
}

/// The MTI of a parsed message.
pub fn mti(message: &IsoMsg) -> String {
    message.get_field_value(&"message_type".to_string()).unwrap_or_default()
}

/// A parsed answer: MTI and every field present, as text.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub mti: String,
    pub fields: BTreeMap<u32, String>,
}

impl Answer {
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Answer> {
        let message = parse(bytes)?;
        let fields = POSITIONS
            .iter()
            .filter_map(|&position| field(&message, position).map(|value| (position, value)))
            .collect();
        Ok(Answer {
            mti: mti(&message),
            fields,
        })
    }

    pub fn get(&self, position: u32) -> Option<&str> {
        self.fields.get(&position).map(String::as_str)
    }

    pub fn action(&self) -> &str {
        self.get(39).unwrap_or("(none)")
    }

    /// DE 54: the available balance, signed, in minor units.
    pub fn available(&self) -> Option<i64> {
        let text = self.get(54)?;
        let amount: i64 = text.get(8..20)?.parse().ok()?;
        match text.get(7..8)? {
            "D" => Some(-amount),
            "C" => Some(amount),
            _ => None,
        }
    }
}

/// A request built once with iso8583_rs, whose fixed-width fields are then
/// rewritten in place for each message sent: iso8583_rs's bytes at a
/// fraction of its cost. The slot of each variable field is found by
/// building the message again with that field's every character changed and
/// comparing, so no offsets are computed here.
#[derive(Debug, Clone)]
pub struct Template {
    pub bytes: Vec<u8>,
    slots: Vec<(u32, Range<usize>)>,
}

impl Template {
    /// `fields`: the message's fields with sample values; `variable`: the
    /// positions that change per message (each keeps its sample's length).
    pub fn new(mti: &str, fields: &[(u32, String)], variable: &[u32]) -> anyhow::Result<Template> {
        let assemble = |fields: &[(u32, String)]| {
            let borrowed: Vec<(u32, &str)> = fields.iter().map(|(p, v)| (*p, v.as_str())).collect();
            build(mti, &borrowed)
        };
        let bytes = assemble(fields)?;
        let mut slots = Vec::with_capacity(variable.len());
        for &position in variable {
            let mut changed = fields.to_vec();
            let value = changed
                .iter_mut()
                .find(|(p, _)| *p == position)
                .map(|(_, value)| value)
                .with_context(|| format!("template {mti}: DE {position} has no sample value"))?;
            *value = value.chars().map(other_character).collect();
            let variant = assemble(&changed)?;
            ensure!(
                variant.len() == bytes.len(),
                "template {mti}: DE {position} changes the length"
            );
            let first = bytes.iter().zip(&variant).position(|(a, b)| a != b);
            let last = bytes.iter().zip(&variant).rposition(|(a, b)| a != b);
            let (Some(first), Some(last)) = (first, last) else {
                return Err(anyhow!("template {mti}: DE {position} not found in the message"));
            };
            let sample_len = fields.iter().find(|(p, _)| *p == position).map_or(0, |(_, v)| v.len());
            ensure!(
                last + 1 - first == sample_len,
                "template {mti}: DE {position} is not written as its characters"
            );
            slots.push((position, first..last + 1));
        }
        Ok(Template { bytes, slots })
    }

    /// Where DE `position` lies in the message.
    pub fn slot(&self, position: u32) -> Range<usize> {
        self.slots
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, range)| range.clone())
            .unwrap_or_else(|| panic!("DE {position} is not a variable field of this template"))
    }
}

/// A different character of the same class, so a field's every byte changes.
fn other_character(character: char) -> char {
    match character {
        '0'..='8' => char::from(character as u8 + 1),
        '9' => '0',
        'A'..='Y' | 'a'..='y' => char::from(character as u8 + 1),
        _ => 'A',
    }
}

/// Writes `value` right-justified, zero-padded, into `slot` (for `n` fields).
pub fn put_number(slot: &mut [u8], mut value: u64) {
    for byte in slot.iter_mut().rev() {
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

pub fn framing_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(2)
        .max_frame_length(MESSAGE_BYTES_MAX)
        .new_codec()
}

#[derive(Debug)]
pub struct Link {
    framed: Framed<TcpStream, LengthDelimitedCodec>,
}

impl Link {
    pub async fn connect(address: std::net::SocketAddr) -> anyhow::Result<Link> {
        let socket = TcpStream::connect(address)
            .await
            .with_context(|| format!("connecting to the switch at {address}"))?;
        socket.set_nodelay(true)?;
        Ok(Link {
            framed: Framed::new(socket, framing_codec()),
        })
    }

    pub async fn send(&mut self, message: Vec<u8>) -> anyhow::Result<()> {
        self.framed.send(Bytes::from(message)).await.context("sending")
    }

    pub async fn receive(&mut self) -> anyhow::Result<Vec<u8>> {
        match self.framed.next().await {
            Some(frame) => Ok(frame.context("receiving")?.to_vec()),
            None => Err(anyhow!("the switch closed the connection")),
        }
    }
}

/// DE 12 (YYMMDDhhmmss) of a moment in Unix seconds, UTC.
pub fn local_date_time(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%y%m%d%H%M%S")
        .to_string()
}

/// DE 7 (MMDDhhmmss) of a moment in Unix seconds, UTC.
pub fn transmission_date_time(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .format("%m%d%H%M%S")
        .to_string()
}

pub fn unix_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A per-run acquirer (DE 32), so that no two runs share a transaction identity.
pub fn run_nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    let mixed = SplitMix64::new(nanos ^ u64::from(std::process::id()) << 32).next_u64();
    mixed % 100_000
}

/// A small, fast, seeded generator (SplitMix64): card and amount choices.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}
