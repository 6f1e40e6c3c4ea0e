//! `simulator baseline`: an approve-everything server built on iso8583_rs's
//! own `ISOServer` (a thread per connection, one read and one write per
//! message), keeping nothing, so that the load can be run against it and
//! against the switch side by side. It frames with iso8583_rs's MLI `2E`:
//! a 2-byte big-endian length that excludes itself, the contract's framing.

use std::net::SocketAddr;

use anyhow::{Context, anyhow};
use iso8583_rs::iso8583::IsoError;
use iso8583_rs::iso8583::iso_spec::{IsoMsg, new_msg, spec};
use iso8583_rs::iso8583::mli::MLIType;
use iso8583_rs::iso8583::server::{ISOServer, MsgProcessor};

/// Fields the answer echoes when the request has them (as the contract's switch does).
const ECHOED: [u32; 15] = [2, 3, 4, 6, 7, 11, 12, 24, 32, 37, 41, 42, 49, 51, 56];

struct ApproveAll;

impl MsgProcessor for ApproveAll {
    fn process(&self, server: &ISOServer, message: &mut Vec<u8>) -> Result<(Vec<u8>, IsoMsg), IsoError> {
        let request = server
            .spec
            .parse(message)
            .map_err(|error| IsoError { msg: error.msg })?;
        let request_mti = request.get_field_value(&"message_type".to_string())?;
        let number: u16 = request_mti.parse().map_err(|_| IsoError {
            msg: format!("MTI {request_mti}"),
        })?;
        // A repeat (last digit 1) is answered as its original: request + 10.
        let answer_mti = format!("{}", number - u16::from(number % 10 == 1) + 10);
        let action = match number - number % 10 {
            2800 => "8000",
            2420 => "4000",
            2300 => "3000",
            _ => "0000",
        };
        let segment = server.spec.get_message_from_header(&answer_mti)?;
        let mut answer = new_msg(server.spec, segment);
        answer.set("message_type", &answer_mti)?;
        let present: Vec<u32> = ECHOED
            .iter()
            .copied()
            .filter(|&position| request.bmp_child_value(position).is_ok())
            .collect();
        answer.echo_from(&request, &present)?;
        answer.set_on(39, action)?;
        if action == "0000" {
            answer.set_on(38, "000001")?;
        }
        Ok((answer.assemble()?, answer))
    }
}

pub fn run(listen: SocketAddr) -> anyhow::Result<()> {
    // ISOServer binds inside its own thread and panics there if it cannot:
    // check the address first, so a taken port is an error here.
    drop(std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?);
    let server = ISOServer::new(listen.to_string(), spec(""), MLIType::MLI2E, Box::new(ApproveAll))
        .map_err(|error| anyhow!("iso8583_rs server: {}", error.msg))?;
    println!("baseline (iso8583_rs ISOServer, approve-all, no state) listening on {listen}");
    server
        .start()
        .join()
        .map_err(|_| anyhow!("the iso8583_rs server thread panicked"))
}
