//! The message spec: read from a YAML file in the iso8583_rs format and
//! compiled into per-message field tables at start-up.
//!
//! Dialects are data: another wire dialect (EBCDIC, BCD, 1987 MTIs) is another
//! spec file, not more code. Compilation checks everything the codec relies
//! on, so a bad spec stops start-up with an error naming the field instead of
//! failing on the first message.

use serde::Deserialize;

use super::encoding::{Encoding, Format, length_prefix_capacity};
use super::error::SpecError;

/// Highest data element number (primary and secondary bitmaps).
pub const MAX_POSITION: usize = 128;

/// One field as the spec file writes it (iso8583_rs's `YField` plus our keys).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileField {
    name: String,
    #[serde(rename = "id")]
    _id: u32,
    len: u32,
    #[serde(rename = "type")]
    field_type: String,
    len_encoding: Option<Encoding>,
    data_encoding: Encoding,
    position: Option<u32>,
    children: Option<Vec<FileField>>,
    /// Ours: the longest value of a Variable field, in wire bytes.
    max_len: Option<u32>,
    /// Ours: the content format; absent means `ans` for text, `b` for binary.
    format: Option<Format>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMessage {
    name: String,
    #[serde(rename = "id")]
    _id: u32,
    selector: Vec<String>,
    fields: Vec<FileField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    name: String,
    #[serde(rename = "id")]
    _id: u32,
    header_fields: Vec<FileField>,
    messages: Vec<FileMessage>,
}

/// How a field's length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// Always this many wire bytes.
    Fixed(usize),
    /// A prefix of `prefix_bytes` in `prefix_encoding` states the value's wire bytes, up to `max`.
    Variable {
        prefix_bytes: usize,
        prefix_encoding: Encoding,
        max: usize,
    },
}

/// A compiled data element definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub position: u8,
    pub name: String,
    pub length: Length,
    pub encoding: Encoding,
    pub format: Format,
}

/// The MTI's wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtiDef {
    pub encoding: Encoding,
    pub wire_len: usize,
}

/// The field table of one message pair (e.g. 2100/2110).
#[derive(Debug)]
pub struct MessageDef {
    pub name: String,
    /// Indexed by position; `None` where the spec defines no field.
    fields: Vec<Option<FieldDef>>,
}

impl MessageDef {
    #[inline]
    pub fn field(&self, position: usize) -> Option<&FieldDef> {
        self.fields.get(position).and_then(Option::as_ref)
    }

    /// Every defined field, by ascending position.
    pub fn fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().flatten()
    }
}

const NO_MESSAGE: u8 = u8::MAX;

/// A compiled spec: the MTI format, and per MTI the table of its fields.
#[derive(Debug)]
pub struct Spec {
    pub name: String,
    pub mti: MtiDef,
    messages: Vec<MessageDef>,
    /// MTI (0..=9999) → index into `messages`, or `NO_MESSAGE`.
    message_by_mti: Vec<u8>,
}

impl Spec {
    /// Reads and compiles a spec file.
    pub fn load(path: &std::path::Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Spec::from_yaml(&text)
    }

    /// Compiles a spec from its YAML text.
    pub fn from_yaml(text: &str) -> Result<Spec, SpecError> {
        let file: FileSpec = serde_yaml_ng::from_str(text).map_err(|error| SpecError::Yaml(error.to_string()))?;
        compile(file)
    }

    /// The field table for an MTI, if the spec defines that MTI.
    #[inline]
    pub fn message(&self, mti: u16) -> Option<&MessageDef> {
        match self.message_by_mti.get(mti as usize) {
            Some(&index) if index != NO_MESSAGE => self.messages.get(index as usize),
            _ => None,
        }
    }

    /// Every MTI the spec defines, ascending.
    pub fn mtis(&self) -> impl Iterator<Item = u16> + '_ {
        self.message_by_mti
            .iter()
            .enumerate()
            .filter(|(_, index)| **index != NO_MESSAGE)
            .map(|(mti, _)| mti as u16)
    }
}

fn field_error(message: &str, field: &str, problem: impl Into<String>) -> SpecError {
    SpecError::Field {
        message: message.to_owned(),
        field: field.to_owned(),
        problem: problem.into(),
    }
}

fn compile(file: FileSpec) -> Result<Spec, SpecError> {
    let mti = compile_mti("header_fields", &file.header_fields)?;
    if file.messages.len() >= NO_MESSAGE as usize {
        return Err(SpecError::Spec(format!(
            "{} messages; at most {} are supported",
            file.messages.len(),
            NO_MESSAGE - 1
        )));
    }
    let mut messages = Vec::with_capacity(file.messages.len());
    let mut message_by_mti = vec![NO_MESSAGE; 10_000];
    for (index, message) in file.messages.into_iter().enumerate() {
        let message_mti = compile_mti(&message.name, &message.fields[..message.fields.len().min(1)])?;
        if message_mti != mti {
            return Err(field_error(
                &message.name,
                "message_type",
                "differs from the header field's message type",
            ));
        }
        for selector in &message.selector {
            let value: u16 = match selector.parse() {
                Ok(value) if selector.len() == 4 && value < 10_000 => value,
                _ => {
                    return Err(field_error(
                        &message.name,
                        "selector",
                        format!("{selector:?} is not a four-digit MTI"),
                    ));
                }
            };
            if message_by_mti[value as usize] != NO_MESSAGE {
                return Err(field_error(
                    &message.name,
                    "selector",
                    format!("MTI {selector} is selected by two messages"),
                ));
            }
            message_by_mti[value as usize] = index as u8;
        }
        messages.push(compile_message(message)?);
    }
    if messages.is_empty() {
        return Err(SpecError::Spec("no messages defined".into()));
    }
    Ok(Spec {
        name: file.name,
        mti,
        messages,
        message_by_mti,
    })
}

fn compile_mti(context: &str, fields: &[FileField]) -> Result<MtiDef, SpecError> {
    let [field] = fields else {
        return Err(field_error(
            context,
            "message_type",
            "exactly one message type field is supported",
        ));
    };
    let expected = match field.data_encoding {
        Encoding::ASCII | Encoding::EBCDIC => 4,
        Encoding::BCD => 2,
        Encoding::BINARY => {
            return Err(field_error(
                context,
                &field.name,
                "a binary message type is not supported",
            ));
        }
    };
    if field.field_type != "Fixed" || field.len as usize != expected {
        return Err(field_error(
            context,
            &field.name,
            format!(
                "the message type must be Fixed with len {expected} in {:?}",
                field.data_encoding
            ),
        ));
    }
    Ok(MtiDef {
        encoding: field.data_encoding,
        wire_len: expected,
    })
}

fn compile_message(message: FileMessage) -> Result<MessageDef, SpecError> {
    let bitmap = match message.fields.as_slice() {
        [_, bitmap] if bitmap.field_type == "Bitmapped" => bitmap,
        _ => {
            return Err(field_error(
                &message.name,
                "fields",
                "fields must be the message type followed by one Bitmapped field",
            ));
        }
    };
    if bitmap.data_encoding != Encoding::BINARY {
        return Err(field_error(
            &message.name,
            &bitmap.name,
            "only binary bitmaps are supported",
        ));
    }
    let mut fields: Vec<Option<FieldDef>> = vec![None; MAX_POSITION + 1];
    for child in bitmap.children.iter().flatten() {
        let def = compile_field(&message.name, child)?;
        let slot = &mut fields[def.position as usize];
        if slot.is_some() {
            return Err(field_error(
                &message.name,
                &child.name,
                format!("position {} defined twice", def.position),
            ));
        }
        *slot = Some(def);
    }
    Ok(MessageDef {
        name: message.name,
        fields,
    })
}

fn compile_field(message: &str, field: &FileField) -> Result<FieldDef, SpecError> {
    let error = |problem: String| field_error(message, &field.name, problem);
    let position = match field.position {
        Some(position @ 2..=128) if position != 65 => position as u8,
        Some(position) => {
            return Err(error(format!(
                "position {position} is not a data element (2..=128, not 65: bitmaps are implied)"
            )));
        }
        None => return Err(error("a bitmap child needs a position".into())),
    };
    if field.children.as_ref().is_some_and(|children| !children.is_empty()) {
        return Err(error("nested fields are not supported".into()));
    }
    let format = field.format.unwrap_or(match field.data_encoding {
        Encoding::BINARY => Format::B,
        _ => Format::Ans,
    });
    match (field.data_encoding, format) {
        (Encoding::BINARY, Format::B) => {}
        (Encoding::BINARY, _) | (_, Format::B) => {
            return Err(error("format b goes with BINARY encoding and only with it".into()));
        }
        (Encoding::BCD, Format::N) => {}
        (Encoding::BCD, _) => return Err(error("BCD encoding carries only format n".into())),
        _ => {}
    }
    let length = compile_length(field, &error)?;
    Ok(FieldDef {
        position,
        name: field.name.clone(),
        length,
        encoding: field.data_encoding,
        format,
    })
}

/// A field's length: fixed, or variable with its length prefix's encoding and size.
fn compile_length(field: &FileField, error: &impl Fn(String) -> SpecError) -> Result<Length, SpecError> {
    Ok(match field.field_type.as_str() {
        "Fixed" => {
            if field.len == 0 || field.len > 999 {
                return Err(error(format!("fixed len {} out of range 1..=999", field.len)));
            }
            if field.max_len.is_some() {
                return Err(error("max_len applies to Variable fields only".into()));
            }
            Length::Fixed(field.len as usize)
        }
        "Variable" => {
            let prefix_encoding = field
                .len_encoding
                .ok_or_else(|| error("a Variable field needs len_encoding".into()))?;
            let prefix_bytes = field.len as usize;
            let prefix_ok = match prefix_encoding {
                Encoding::ASCII | Encoding::EBCDIC => (1..=3).contains(&prefix_bytes),
                Encoding::BCD | Encoding::BINARY => (1..=2).contains(&prefix_bytes),
            };
            if !prefix_ok {
                return Err(error(format!(
                    "a {prefix_encoding:?} length prefix of {prefix_bytes} bytes is not supported"
                )));
            }
            let capacity = length_prefix_capacity(prefix_encoding, prefix_bytes);
            let max = field.max_len.map_or(capacity, |max| max as usize);
            if max == 0 || max > capacity {
                return Err(error(format!(
                    "max_len {max} does not fit the length prefix (at most {capacity})"
                )));
            }
            Length::Variable {
                prefix_bytes,
                prefix_encoding,
                max,
            }
        }
        other => return Err(error(format!("type {other:?} is not Fixed or Variable"))),
    })
}

#[cfg(test)]
pub(crate) mod tests;
