//! The frame handler: decodes a message, dispatches it by MTI, encodes the answer.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::ActionCode;
use crate::iso8583::{Message, OutMessage, Spec};
use crate::network::{FrameHandler, Reply};

/// Fields every answer echoes when the request carried them (network-interface.md, "Messages").
pub const ECHO_FIELDS: [usize; 15] = [2, 3, 4, 6, 7, 11, 12, 24, 32, 37, 41, 42, 49, 51, 56];

/// DE 24 function codes of 2804 network management.
const SIGN_ON: u64 = 801;
const SIGN_OFF: u64 = 802;
const ECHO_TEST: u64 = 831;

#[derive(Debug)]
pub struct Switch {
    spec: Arc<Spec>,
}

impl Switch {
    pub fn new(spec: Arc<Spec>) -> Self {
        Self { spec }
    }

    /// Answers one message synchronously (everything that needs no durable change).
    pub fn answer(&self, frame: &[u8]) -> Reply {
        let (request, error) = match Message::decode_lenient(&self.spec, frame) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%error, "unreadable message; closing the connection");
                return Reply::Close;
            }
        };
        let mti = request.mti();
        let response_mti = response_mti(mti);
        let action = match (error.or_else(|| request.validate().err()), mti) {
            (Some(error), _) => {
                tracing::info!(mti, %error, "malformed message");
                ActionCode::MessageError
            }
            (None, 2804) => network_management(&request),
            (None, _) => ActionCode::FunctionNotSupported,
        };
        metrics::counter!("antaca_requests_total", "mti" => mti_label(mti), "action" => action.as_str()).increment(1);
        let mut response = OutMessage::new(response_mti);
        response.echo(&request, &ECHO_FIELDS).set_text(39, action.code());
        let mut out = Vec::with_capacity(frame.len() + 32);
        match response.encode_into(&self.spec, &mut out) {
            Ok(()) => Reply::Send(Bytes::from(out)),
            Err(error) => {
                tracing::error!(%error, mti, "cannot encode the answer");
                Reply::Close
            }
        }
    }
}

fn network_management(request: &Message<'_>) -> ActionCode {
    match request.u64(24) {
        Some(SIGN_ON | SIGN_OFF | ECHO_TEST) => ActionCode::Accepted,
        Some(_) => ActionCode::FunctionNotSupported,
        None => ActionCode::MessageError,
    }
}

/// The answer's MTI: request + 10, with a repeat (last digit 1) answered as its original.
pub fn response_mti(mti: u16) -> u16 {
    let original = if mti % 10 == 1 { mti - 1 } else { mti };
    original + 10
}

/// A static label per MTI, so metrics do not allocate per request.
pub fn mti_label(mti: u16) -> &'static str {
    match mti {
        2100 => "2100",
        2101 => "2101",
        2120 => "2120",
        2121 => "2121",
        2200 => "2200",
        2201 => "2201",
        2220 => "2220",
        2221 => "2221",
        2304 => "2304",
        2420 => "2420",
        2421 => "2421",
        2804 => "2804",
        _ => "other",
    }
}

impl FrameHandler for Switch {
    fn handle(&self, frame: Bytes) -> impl Future<Output = Reply> + Send + 'static {
        std::future::ready(self.answer(&frame))
    }
}
