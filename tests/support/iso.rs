//! The raw ISO 8583 side: a TCP client speaking the contract's framing (2-byte length, any number
//! in flight), the request builder [`Tx`] and the decoded [`Response`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use antaca::crypto::pin_block::{ClearPin, ZonePinKey};
use antaca::iso8583::{Message, OutMessage, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub const ACQUIRER: &str = "123456";

/// The repository's ISO 8583 specification.
pub fn spec() -> Arc<Spec> {
    let root = env!("CARGO_MANIFEST_DIR");
    Arc::new(Spec::load(std::path::Path::new(&format!("{root}/specs/iso8583_2003_ascii.yaml"))).unwrap())
}

/// A request under construction: MTI and field values (logical, unpadded).
#[derive(Debug, Clone)]
pub struct Tx {
    pub mti: u16,
    pub fields: Vec<(usize, Vec<u8>)>,
}

static STAN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

pub fn next_stan() -> String {
    format!(
        "{:06}",
        STAN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000
    )
}

impl Tx {
    pub fn new(mti: u16) -> Tx {
        Tx {
            mti,
            fields: Vec::new(),
        }
    }

    pub fn set(mut self, position: usize, value: impl AsRef<[u8]>) -> Tx {
        self.fields.retain(|(p, _)| *p != position);
        self.fields.push((position, value.as_ref().to_vec()));
        self
    }

    pub fn without(mut self, position: usize) -> Tx {
        self.fields.retain(|(p, _)| *p != position);
        self
    }

    pub fn get(&self, position: usize) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, value)| value.as_slice())
    }

    /// An authorization-like request (2100, 2120, 2200) for `amount` EUR cents.
    pub fn spend(mti: u16, pan: &str, processing: &str, amount: u64) -> Tx {
        Tx::new(mti)
            .set(2, pan)
            .set(3, processing)
            .set(4, format!("{amount:012}"))
            .set(7, "1124120000")
            .set(11, next_stan())
            .set(12, "261124120000")
            .set(22, "011")
            .set(24, "100")
            .set(26, "5411")
            .set(32, ACQUIRER)
            .set(37, "RRN000000001")
            .set(41, "TERM0001")
            .set(42, "MERCHANT0000001")
            .set(49, "978")
    }

    pub fn authorization(pan: &str, amount: u64) -> Tx {
        Tx::spend(2100, pan, "000000", amount)
    }

    /// DE 56 naming this request: MTI, STAN, DE 12, DE 32 as LL + digits.
    pub fn original_data(&self) -> String {
        let text = |position| String::from_utf8(self.get(position).unwrap().to_vec()).unwrap();
        let acquirer = text(32);
        format!(
            "{:04}{}{}{:02}{}",
            self.mti,
            text(11),
            text(12),
            acquirer.len(),
            acquirer
        )
    }

    /// A 2420 reversal of this request: full (`None`) or partial, leaving `remaining`.
    pub fn reversal(&self, remaining: Option<u64>) -> Tx {
        let mut reversal = Tx::new(2420)
            .set(2, self.get(2).unwrap())
            .set(3, self.get(3).unwrap())
            .set(4, format!("{:012}", remaining.unwrap_or(0)))
            .set(11, next_stan())
            .set(12, "261124120500")
            .set(24, if remaining.is_some() { "401" } else { "400" })
            .set(32, ACQUIRER)
            .set(49, "978")
            .set(56, self.original_data());
        if remaining.is_none() {
            reversal = reversal.set(4, self.get(4).unwrap());
        }
        reversal
    }

    /// A 2220 completion of this authorization for `amount`.
    pub fn completion(&self, amount: u64) -> Tx {
        Tx::new(2220)
            .set(2, self.get(2).unwrap())
            .set(3, self.get(3).unwrap())
            .set(4, format!("{amount:012}"))
            .set(11, next_stan())
            .set(12, "261124130000")
            .set(24, "201")
            .set(32, ACQUIRER)
            .set(49, "978")
            .set(56, self.original_data())
    }

    pub fn repeat(&self) -> Tx {
        Tx {
            mti: self.mti + 1,
            fields: self.fields.clone(),
        }
    }

    pub fn with_cvc2(self, cvc2: &str) -> Tx {
        self.set(48, format!("9203{cvc2}"))
    }

    pub fn with_pin(self, key: &ZonePinKey, pan: &str, pin: &str) -> Tx {
        let block = key
            .encrypt_pin(&ClearPin::new(pin.as_bytes()).unwrap(), pan.as_bytes())
            .unwrap();
        self.set(52, block)
    }

    pub fn encode(&self, spec: &Spec) -> Vec<u8> {
        let mut message = OutMessage::new(self.mti);
        for (position, value) in &self.fields {
            message.set_text(*position, value);
        }
        let mut out = Vec::new();
        message.encode_into(spec, &mut out).expect("test request encodes");
        out
    }
}

/// A decoded answer, fields as text.
#[derive(Debug, Clone)]
pub struct Response {
    pub mti: u16,
    pub fields: HashMap<usize, Vec<u8>>,
}

impl Response {
    pub fn action(&self) -> &str {
        self.text(39).unwrap_or("")
    }

    pub fn text(&self, position: usize) -> Option<&str> {
        self.fields
            .get(&position)
            .map(|value| std::str::from_utf8(value).unwrap())
    }

    /// DE 54 available balance as a signed number.
    pub fn available(&self) -> Option<i64> {
        let text = self.text(54)?;
        let amount: i64 = text[8..20].parse().unwrap();
        Some(if &text[7..8] == "D" { -amount } else { amount })
    }
}

/// A raw-TCP ISO 8583 client: 2-byte length framing, any number in flight.
pub struct Client {
    spec: Arc<Spec>,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (reader, writer) = stream.into_split();
        Client {
            spec: spec(),
            reader,
            writer,
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(bytes);
        self.writer.write_all(&framed).await.unwrap();
    }

    pub async fn send(&mut self, tx: &Tx) {
        let bytes = tx.encode(&self.spec);
        self.send_raw(&bytes).await;
    }

    /// The next answer's raw bytes, or `None` when the switch closed the connection.
    pub async fn receive_raw(&mut self) -> Option<Vec<u8>> {
        let mut header = [0u8; 2];
        self.reader.read_exact(&mut header).await.ok()?;
        let mut body = vec![0u8; u16::from_be_bytes(header) as usize];
        self.reader.read_exact(&mut body).await.ok()?;
        Some(body)
    }

    pub async fn receive(&mut self) -> Response {
        let bytes = tokio::time::timeout(std::time::Duration::from_secs(10), self.receive_raw())
            .await
            .expect("an answer within 10 s")
            .expect("the connection stays open");
        decode(&self.spec, &bytes)
    }

    /// Sends one request and waits for its answer.
    pub async fn exchange(&mut self, tx: &Tx) -> Response {
        self.send(tx).await;
        let response = self.receive().await;
        assert_eq!(
            response.text(11).map(str::as_bytes),
            tx.get(11),
            "the answer echoes the STAN"
        );
        response
    }
}

pub fn decode(spec: &Spec, bytes: &[u8]) -> Response {
    let message = Message::decode(spec, bytes).expect("the switch's answer decodes");
    let fields = message
        .positions()
        .map(|position| (position, message.raw(position).unwrap().to_vec()))
        .collect();
    Response {
        mti: message.mti(),
        fields,
    }
}

/// The development zone PIN key of the repository's config.toml.
pub fn zone_pin_key() -> ZonePinKey {
    ZonePinKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap()).unwrap()
}
