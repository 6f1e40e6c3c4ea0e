//! Request bodies and helpers shared by several resources, and the
//! validation that turns request bodies into domain values. JSON names are
//! camelCase; enumerations are UPPER_SNAKE_CASE; times are RFC 3339 (UTC).
//! A validation error names the field by its JSON path.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::state::{PostalAddress, TimestampMs};

/// A 201 answer with its body.
pub type Created<T> = (axum::http::StatusCode, axum::Json<T>);

/// RFC 3339 with milliseconds, UTC.
pub fn time(ms: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A required text field: trimmed, non-empty, at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::validation(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::validation(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    value.map(|value| text(field, value, max)).transpose()
}

/// ISO 3166-1 alpha-2 (two uppercase letters).
pub fn country(field: &str, value: &str) -> Result<String, ApiError> {
    if value.len() == 2 && value.bytes().all(|byte| byte.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::validation(
            field,
            "must be an ISO 3166-1 alpha-2 country code (e.g. PL)",
        ))
    }
}

/// A calendar date, YYYY-MM-DD.
pub fn date(field: &str, value: &str) -> Result<String, ApiError> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|date| date.format("%Y-%m-%d").to_string())
        .map_err(|_| ApiError::validation(field, "must be a date YYYY-MM-DD"))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressDto {
    #[schema(example = "ul. Prosta 1")]
    pub line1: String,
    pub line2: Option<String>,
    #[schema(example = "Warszawa")]
    pub city: String,
    #[schema(example = "00-001")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "PL")]
    pub country: String,
}

impl AddressDto {
    pub fn validate(&self, field: &str) -> Result<PostalAddress, ApiError> {
        let name = |part: &str| format!("{field}.{part}");
        Ok(PostalAddress {
            line1: text(&name("line1"), &self.line1, 200)?,
            line2: optional_text(&name("line2"), self.line2.as_deref(), 200)?,
            city: text(&name("city"), &self.city, 100)?,
            postal_code: text(&name("postalCode"), &self.postal_code, 20)?,
            country: country(&name("country"), &self.country)?,
        })
    }
}

impl From<&PostalAddress> for AddressDto {
    fn from(address: &PostalAddress) -> Self {
        AddressDto {
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            postal_code: address.postal_code.clone(),
            country: address.country.clone(),
        }
    }
}

/// An optional reason of a decision (required to reject or hold a corporation).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionRequest {
    pub reason: Option<String>,
}

impl DecisionRequest {
    pub fn reason(&self) -> Result<Option<String>, ApiError> {
        optional_text("reason", self.reason.as_deref(), 1000)
    }
}
