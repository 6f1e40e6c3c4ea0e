//! Antaca: an open card-issuing platform.
//!
//! # Layout
//! - [`iso8583`]: the ISO 8583 codec (spec file → field tables, zero-copy decode, encode).
pub mod iso8583;
