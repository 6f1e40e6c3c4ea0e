//! The API's one error type: every failure a handler or extractor can answer,
//! each with its HTTP status and a stable code that clients may match on.
//! The body is always `{"code": "...", "message": "..."}`.
//!
//! Internal failures are logged here with their detail and answered with a
//! fixed message, so nothing about the database or the code leaks.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::balances::BalanceError;
use crate::cards::CardError;
use crate::sessions::SessionError;
use crate::state::JournalError;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable, upper snake case (e.g. `SESSION_EXPIRED`).
    #[schema(example = "VALIDATION_FAILED")]
    pub code: String,
    /// For people; validation errors name the field first (`birthDate: ...`).
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field of the request is missing or wrong; `field` is its JSON name (path).
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than this server accepts")]
    PayloadTooLarge,
    #[error(
        "this route requires JWE: a Public-Key header and Encrypted-Request: true (a body) or Encrypt-Response: true"
    )]
    EncryptionRequired,
    #[error("the Public-Key header is not a base64 RSA public key (SubjectPublicKeyInfo) of at least 2048 bits")]
    InvalidPublicKey,
    #[error("{0}")]
    InvalidPayload(String),
    /// Every decryption failure after the header check: one message, one code (no padding oracle).
    #[error("the payload could not be decrypted with the platform's key")]
    CantDecryptPayload,
    #[error("this channel requires a client certificate signed by a partner CA")]
    ClientCertificateRequired,
    #[error("the client certificate names no configured partner")]
    PartnerUnknown,
    #[error("a session token is required (Authorization: Bearer <token>)")]
    SessionRequired,
    #[error("the session token is not valid")]
    SessionInvalid,
    #[error("the session has expired")]
    SessionExpired,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("your role may not do this")]
    Forbidden,
    /// Also what another partner's id answers: "not found" reveals nothing.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A state conflict with a stable code (e.g. `KYC_ALREADY_VERIFIED`).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The journal refused or could not make the change durable; nothing changed.
    #[error("the service is unavailable; nothing was changed, try again")]
    Unavailable,
    /// Logged with its detail; answered without it.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. }
            | ApiError::MalformedJson(_)
            | ApiError::EncryptionRequired
            | ApiError::InvalidPublicKey
            | ApiError::InvalidPayload(_)
            | ApiError::CantDecryptPayload => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ClientCertificateRequired
            | ApiError::SessionRequired
            | ApiError::SessionInvalid
            | ApiError::SessionExpired
            | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::PartnerUnknown | ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation { .. } => "VALIDATION_FAILED",
            ApiError::MalformedJson(_) => "MALFORMED_JSON",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::EncryptionRequired => "ENCRYPTION_REQUIRED",
            ApiError::InvalidPublicKey => "INVALID_PUBLIC_KEY",
            ApiError::InvalidPayload(_) => "INVALID_PAYLOAD",
            ApiError::CantDecryptPayload => "CANT_DECRYPT_PAYLOAD",
            ApiError::ClientCertificateRequired => "CLIENT_CERTIFICATE_REQUIRED",
            ApiError::PartnerUnknown => "PARTNER_UNKNOWN",
            ApiError::SessionRequired => "SESSION_REQUIRED",
            ApiError::SessionInvalid => "SESSION_INVALID",
            ApiError::SessionExpired => "SESSION_EXPIRED",
            ApiError::InvalidCredentials => "INVALID_CREDENTIALS",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::NotFound(what) => not_found_code(what),
            ApiError::Conflict { code, .. } => code,
            ApiError::Unavailable => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

/// One code per kind of thing, the same whether it does not exist or belongs to another partner.
fn not_found_code(what: &str) -> &'static str {
    match what {
        "user" => "USER_NOT_FOUND",
        "corporation" => "CORPORATION_NOT_FOUND",
        "installation" => "INSTALLATION_NOT_FOUND",
        "KYC submission" => "KYC_SUBMISSION_NOT_FOUND",
        "balance" => "BALANCE_NOT_FOUND",
        "card" => "CARD_NOT_FOUND",
        "partner" => "PARTNER_NOT_FOUND",
        "card request" => "CARD_REQUEST_NOT_FOUND",
        "program" => "PROGRAM_NOT_FOUND",
        _ => "NOT_FOUND",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error answered 500");
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED && matches!(self, ApiError::SessionExpired | ApiError::SessionInvalid) {
            // RFC 6750: tells clients why the bearer token failed.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

impl From<JournalError> for ApiError {
    fn from(error: JournalError) -> Self {
        match error {
            // Overload and an unreachable database pass: the client may retry.
            JournalError::Unavailable | JournalError::Overloaded | JournalError::InDoubt => ApiError::Unavailable,
            JournalError::Failed | JournalError::Stopped => ApiError::internal(format!("journal: {error}")),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::JsonDataError(error) => data_error(&error.body_text()),
            JsonRejection::JsonSyntaxError(error) => ApiError::MalformedJson(error.body_text()),
            JsonRejection::BytesRejection(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::MalformedJson(other.body_text()),
        }
    }
}

/// serde's data errors read `Failed to deserialize the JSON body into the target type: field.path: message
/// at line L column C`; the field path is what a client needs, so it becomes the error's field.
fn data_error(text: &str) -> ApiError {
    let detail = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    let detail = match detail.rfind(" at line ") {
        Some(at) => &detail[..at],
        None => detail,
    };
    if let Some(field) = missing_field(detail) {
        return ApiError::validation(field, "is required");
    }
    match detail.split_once(": ") {
        // serde_path_to_error spells the top level ".".
        Some((".", message)) => ApiError::validation("body", message),
        Some((field, message)) if !field.contains(' ') => ApiError::validation(field, message),
        _ => ApiError::validation("body", detail),
    }
}

/// `missing field `birthDate`` (possibly under a path `address: missing field `city``).
fn missing_field(detail: &str) -> Option<String> {
    let (path, rest) = match detail.split_once(": missing field `") {
        Some((path, rest)) => (Some(path), rest),
        None => (None, detail.strip_prefix("missing field `")?),
    };
    let name = rest.split('`').next()?;
    Some(match path {
        Some(path) if !path.contains(' ') => format!("{path}.{name}"),
        _ => name.to_owned(),
    })
}

/// The fixed bodies of answers no handler produced: unknown routes, wrong
/// methods, timeouts, oversize bodies and panics, so that every error is JSON.
pub fn body_for_status(status: StatusCode) -> ErrorBody {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("ROUTE_NOT_FOUND", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "this route does not take this method"),
        StatusCode::REQUEST_TIMEOUT => ("REQUEST_TIMEOUT", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "the body is larger than this server accepts"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("UNSUPPORTED_MEDIA_TYPE", "the body must be JSON"),
        StatusCode::BAD_REQUEST => ("BAD_REQUEST", "the request is not valid"),
        status if status.is_server_error() => ("INTERNAL_ERROR", "internal error"),
        _ => ("REQUEST_FAILED", "the request failed"),
    };
    ErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

impl From<crate::customers::CustomerError> for ApiError {
    fn from(error: crate::customers::CustomerError) -> Self {
        use crate::customers::CustomerError::*;
        match error {
            NotFound => ApiError::NotFound("user"),
            SubmissionNotFound => ApiError::NotFound("KYC submission"),
            ExternalRefTaken => ApiError::conflict("EXTERNAL_ID_TAKEN", error.to_string()),
            Busy => ApiError::conflict("BUSY", error.to_string()),
            KycAlreadyVerified => ApiError::conflict("KYC_ALREADY_VERIFIED", error.to_string()),
            KycInReview => ApiError::conflict("KYC_IN_REVIEW", error.to_string()),
            SubmissionDecided => ApiError::conflict("KYC_ALREADY_DECIDED", error.to_string()),
            Journal(error) => error.into(),
        }
    }
}

impl From<crate::corporations::CorporationError> for ApiError {
    fn from(error: crate::corporations::CorporationError) -> Self {
        use crate::corporations::CorporationError::*;
        match error {
            NotFound => ApiError::NotFound("corporation"),
            TransitionNotAllowed { .. } => ApiError::conflict("KYB_TRANSITION_NOT_ALLOWED", error.to_string()),
            ReasonRequired => ApiError::validation("reason", "is required to reject or hold a corporation"),
            Busy => ApiError::conflict("BUSY", error.to_string()),
            Journal(error) => error.into(),
        }
    }
}

impl From<crate::admins::AdminError> for ApiError {
    fn from(error: crate::admins::AdminError) -> Self {
        use crate::admins::AdminError::*;
        match error {
            InvalidCredentials => ApiError::InvalidCredentials,
            Forbidden => ApiError::Forbidden,
            Invalid { field, message } => ApiError::validation(field, message),
            UsernameTaken => ApiError::conflict("USERNAME_TAKEN", error.to_string()),
            Hashing(detail) => ApiError::internal(format!("password hashing: {detail}")),
            Journal(error) => error.into(),
        }
    }
}

impl From<BalanceError> for ApiError {
    fn from(error: BalanceError) -> Self {
        match error {
            BalanceError::NotFound => ApiError::NotFound("balance"),
            BalanceError::UnknownCurrency(_) => ApiError::validation("currency", error.to_string()),
            BalanceError::InvalidAmount => ApiError::validation("amount", "must be a positive number of minor units"),
            BalanceError::NotActive => ApiError::conflict("BALANCE_NOT_ACTIVE", error.to_string()),
            BalanceError::InsufficientFunds => ApiError::conflict(
                "PARTNER_FUNDS_INSUFFICIENT",
                "the partner credit balance has insufficient funds; nothing was changed",
            ),
            BalanceError::CurrencyMismatch => ApiError::conflict("CURRENCY_MISMATCH", error.to_string()),
            BalanceError::AlreadyExists => ApiError::conflict("PARTNER_BALANCE_EXISTS", error.to_string()),
            BalanceError::Busy => ApiError::conflict("BUSY", error.to_string()),
            BalanceError::Journal(error) => error.into(),
        }
    }
}

impl From<CardError> for ApiError {
    fn from(error: CardError) -> Self {
        match error {
            CardError::NotFound => ApiError::NotFound("card"),
            CardError::Balance => ApiError::conflict("BALANCE_NOT_ACTIVE", error.to_string()),
            CardError::Program => ApiError::validation("programId", "no such program of the partner"),
            CardError::CurrencyMismatch => ApiError::conflict("CURRENCY_MISMATCH", error.to_string()),
            CardError::NumbersExhausted => ApiError::conflict("CARD_NUMBERS_EXHAUSTED", error.to_string()),
            CardError::Irreversible => ApiError::conflict("CARD_LOCK_IRREVERSIBLE", error.to_string()),
            CardError::InvalidState => ApiError::conflict("CARD_STATE_INVALID", error.to_string()),
            CardError::InvalidPin => ApiError::validation("pin", error.to_string()),
            CardError::Journal(error) => error.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Invalid => ApiError::SessionInvalid,
            SessionError::Expired => ApiError::SessionExpired,
            SessionError::CustomerNotFound => ApiError::NotFound("user"),
            SessionError::InstallationNotFound => ApiError::NotFound("installation"),
            SessionError::Busy => ApiError::conflict("BUSY", "another change of this is in flight; try again"),
            SessionError::Journal(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_data_errors_name_the_field() {
        let missing = data_error(
            "Failed to deserialize the JSON body into the target type: missing field `birthDate` at line 1 column 2",
        );
        assert_eq!(missing.body().message, "birthDate: is required");
        let nested = data_error(
            "Failed to deserialize the JSON body into the target type: address: missing field `city` at line 1 column 9",
        );
        assert_eq!(nested.body().message, "address.city: is required");
        let wrong = data_error(
            "Failed to deserialize the JSON body into the target type: documentType: unknown variant `visa`, \
             expected one of `PASSPORT` at line 1 column 30",
        );
        assert!(wrong.body().message.starts_with("documentType: unknown variant"));
        assert_eq!(wrong.code(), "VALIDATION_FAILED");
    }
}
