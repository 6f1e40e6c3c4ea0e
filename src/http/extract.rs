//! Extractors that answer with [`ApiError`] instead of axum's plain-text
//! rejections, so a malformed body or path is a JSON error naming the field.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body (`Content-Type: application/json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let headers = parts.headers.clone();
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| match rejection.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::MalformedJson(rejection.body_text()),
            })?;
        let mut buffered = Request::new(axum::body::Body::from(bytes.clone()));
        *buffered.headers_mut() = headers;
        match axum::Json::<T>::from_request(buffered, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            // serde_json reports some wrong types as syntax errors (a number where an enumeration's
            // name goes: "expected value"); valid JSON is never MALFORMED_JSON.
            Err(JsonRejection::JsonSyntaxError(error))
                if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() =>
            {
                Err(wrong_type(&error.body_text()))
            }
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// A type error serde_json reported as a syntax error, naming the field from its path
/// (`Failed to parse the request body as JSON: kind: expected value at line 1 column 26`).
fn wrong_type(text: &str) -> ApiError {
    let detail = text.split_once("JSON: ").map_or(text, |(_, detail)| detail);
    match detail.split_once(": ") {
        Some((field, _)) if field != "." && !field.contains(' ') => {
            ApiError::validation(field, "has the wrong JSON type")
        }
        _ => ApiError::validation("body", "has the wrong JSON type"),
    }
}

/// `Content-Type: application/json` or `application/*+json` (parameters allowed), as axum's `Json` accepts.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// Path parameters; one that does not parse is a validation error naming it.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                // The parameter's name as the route spells it (`userId`), whichever way serde reports it.
                let names: Vec<String> = axum::extract::RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|params| params.iter().map(|(name, _)| name.to_owned()).collect())
                    .unwrap_or_default();
                let field = match error.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                    ErrorKind::ParseErrorAtIndex { index, .. } => names.get(*index).cloned().unwrap_or_default(),
                    _ if names.len() == 1 => names[0].clone(),
                    _ => "path".to_owned(),
                };
                Err(ApiError::validation(field, "is not a valid identifier"))
            }
            Err(other) => Err(ApiError::internal(format!("path extraction: {other}"))),
        }
    }
}

/// Query parameters; a wrong one is a validation error.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::validation("query", rejection.body_text()))
    }
}

/// A JSON body that may be left out (an empty body is `T::default()`), for
/// actions whose body is optional, like a decision's reason.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() != b"0");
        let has_type = request.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if !has_type {
            // No Content-Type: acceptable only without a body.
            let bytes = axum::body::Bytes::from_request(request, state)
                .await
                .map_err(|_| ApiError::PayloadTooLarge)?;
            return if bytes.is_empty() || !has_body {
                Ok(OptionalJson(T::default()))
            } else {
                Err(ApiError::UnsupportedMediaType)
            };
        }
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(OptionalJson(value))
    }
}
