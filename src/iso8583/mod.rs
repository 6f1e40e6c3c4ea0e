//! The ISO 8583 codec: spec-driven, zero-copy, and free of any I/O.
//!
//! - [`spec`]: reads a spec file (the iso8583_rs YAML format, in `specs/`) and
//!   compiles it into per-MTI field tables;
//! - [`decode`]: [`Message`], a view of received bytes with field offsets;
//! - [`encode`]: [`OutMessage`], written into a reusable buffer;
//! - [`encoding`]: ASCII, EBCDIC (code page 037), BCD and binary; content formats;
//! - [`error`]: errors as values that name the field.
//!
//! Framing (the 2-byte length header) is the network layer's business, not
//! the codec's.

pub mod decode;
pub mod encode;
pub mod encoding;
pub mod error;
pub mod spec;

pub use decode::{Message, Value};
pub use encode::{OutMessage, OutValue};
pub use encoding::{Encoding, Format};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, FieldRef, SpecError};
pub use spec::{FieldDef, Length, MessageDef, Spec};

/// Largest message the contract allows (bytes after the 2-byte length header).
pub const MESSAGE_BYTES_MAX: usize = 8192;
