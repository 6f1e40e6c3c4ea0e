//! Messages on the wire, built and read with iso8583_rs, framed with the
//! contract's 2-byte length header.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use iso8583_rs::iso8583::iso_spec::{IsoMsg, new_msg, spec};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

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
    spec("")
        .parse(&mut data)
        .map_err(|error| anyhow!("unreadable answer: {}", error.msg))
}

/// A field of a parsed message as text, if present.
pub fn field(message: &IsoMsg, position: u32) -> Option<String> {
    message.bmp_child_value(position).ok()
}

pub struct Link {
    framed: Framed<TcpStream, LengthDelimitedCodec>,
}

impl Link {
    pub async fn connect(address: std::net::SocketAddr) -> anyhow::Result<Link> {
        let socket = TcpStream::connect(address)
            .await
            .with_context(|| format!("connecting to the switch at {address}"))?;
        socket.set_nodelay(true)?;
        let codec = LengthDelimitedCodec::builder()
            .length_field_length(2)
            .max_frame_length(8192)
            .new_codec();
        Ok(Link {
            framed: Framed::new(socket, codec),
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
