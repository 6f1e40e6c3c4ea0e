//! Codec errors: values that name the field and what was wrong with it.
//!
//! They never carry field contents, so an error can be logged without leaking
//! a PAN, a PIN block or a CVC2.

use std::fmt;

/// Which part of a message an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef {
    /// The message type indicator.
    Mti,
    /// The primary bitmap.
    PrimaryBitmap,
    /// The secondary bitmap (DE 1).
    SecondaryBitmap,
    /// A data element, by its position (2..=128).
    De(u8),
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Mti => f.write_str("MTI"),
            FieldRef::PrimaryBitmap => f.write_str("primary bitmap"),
            FieldRef::SecondaryBitmap => f.write_str("secondary bitmap (DE 1)"),
            FieldRef::De(position) => write!(f, "DE {position}"),
        }
    }
}

/// What was wrong while reading a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The message ended inside this field.
    Truncated { needed: usize, available: usize },
    /// The MTI is not one the spec defines.
    UnknownMti,
    /// The MTI is not four digits.
    InvalidMti,
    /// The bitmap names a field the spec does not define.
    NotInSpec,
    /// A third bitmap was announced; the spec format has none.
    TertiaryBitmap,
    /// The secondary bitmap is present but announces no data element (DE 65–128).
    EmptySecondaryBitmap,
    /// A variable-length prefix is not a number in its encoding.
    InvalidLengthPrefix,
    /// A variable-length field is longer than the spec allows.
    TooLong { max: usize, found: usize },
    /// A character that the field's format does not allow, at this offset in the value.
    InvalidCharacter { offset: usize },
    /// Bytes are left after the last field the bitmap announces.
    TrailingBytes { count: usize },
}

/// An error reading a message: which field, and what was wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct DecodeError {
    pub field: FieldRef,
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Truncated { needed, available } => {
                write!(
                    f,
                    "message ends inside the field (needs {needed} bytes, {available} left)"
                )
            }
            DecodeErrorKind::UnknownMti => f.write_str("message type not defined by the spec"),
            DecodeErrorKind::InvalidMti => f.write_str("message type is not four digits"),
            DecodeErrorKind::NotInSpec => f.write_str("present in the bitmap but not defined by the spec"),
            DecodeErrorKind::TertiaryBitmap => f.write_str("a tertiary bitmap is not supported"),
            DecodeErrorKind::EmptySecondaryBitmap => {
                f.write_str("present but announces no data element from 65 to 128")
            }
            DecodeErrorKind::InvalidLengthPrefix => f.write_str("length prefix is not a number"),
            DecodeErrorKind::TooLong { max, found } => {
                write!(f, "length {found} exceeds the maximum {max}")
            }
            DecodeErrorKind::InvalidCharacter { offset } => {
                write!(f, "character at offset {offset} not allowed by the field's format")
            }
            DecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} bytes after the last field")
            }
        }
    }
}

impl DecodeError {
    pub(crate) const fn new(field: FieldRef, kind: DecodeErrorKind) -> Self {
        Self { field, kind }
    }
}

/// What was wrong while writing a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeErrorKind {
    /// The MTI is not one the spec defines.
    UnknownMti,
    /// The spec does not define this field for this MTI.
    NotInSpec,
    /// The value does not fit the field.
    TooLong { max: usize, found: usize },
    /// A binary or pre-encoded fixed field must be exactly its size.
    WrongLength { expected: usize, found: usize },
    /// A number was given for a field that does not hold digits.
    NotNumeric,
    /// A character that the field's encoding cannot carry.
    InvalidCharacter { offset: usize },
}

/// An error writing a message: which field, and what was wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {kind}")]
pub struct EncodeError {
    pub field: FieldRef,
    pub kind: EncodeErrorKind,
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeErrorKind::UnknownMti => f.write_str("message type not defined by the spec"),
            EncodeErrorKind::NotInSpec => f.write_str("not defined by the spec"),
            EncodeErrorKind::TooLong { max, found } => {
                write!(f, "value of length {found} exceeds the maximum {max}")
            }
            EncodeErrorKind::WrongLength { expected, found } => {
                write!(f, "value of length {found}, the field is exactly {expected}")
            }
            EncodeErrorKind::NotNumeric => f.write_str("a number given for a non-numeric field"),
            EncodeErrorKind::InvalidCharacter { offset } => {
                write!(f, "character at offset {offset} cannot be encoded")
            }
        }
    }
}

impl EncodeError {
    pub(crate) const fn new(field: FieldRef, kind: EncodeErrorKind) -> Self {
        Self { field, kind }
    }
}

/// An invalid spec file: names the field (or the part of the file) and the problem.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("spec is not valid YAML of the iso8583_rs format: {0}")]
    Yaml(String),
    #[error("spec message {message:?}, field {field:?}: {problem}")]
    Field {
        message: String,
        field: String,
        problem: String,
    },
    #[error("spec: {0}")]
    Spec(String),
}
