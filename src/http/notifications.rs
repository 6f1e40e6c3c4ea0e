//! The notification outbox as the administration panel (`GET /admin/notifications`) and the partner
//! (`GET /secure/partner/notifications`) see it: each notification with its delivery attempts, the
//! last error and when it was delivered. A partner's administrator and a partner see only their own.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::permission::ReadBalances;
use super::auth::{Authorized, PartnerIdentity};
use super::dto::time;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use crate::state::{Notification, Scope};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(admin_notifications))
        .routes(routes!(secure_partner_notifications))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationStatusDto {
    /// Not acknowledged yet (still retried while the partner has a webhook).
    Undelivered,
    /// Acknowledged with a 2xx by the partner's webhook.
    Delivered,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// Only notifications in this delivery status (`UNDELIVERED` or `DELIVERED`, any case).
    pub status: Option<String>,
}

impl NotificationFilter {
    fn status(&self) -> Result<Option<NotificationStatusDto>, ApiError> {
        match self.status.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None => Ok(None),
            Some("UNDELIVERED") => Ok(Some(NotificationStatusDto::Undelivered)),
            Some("DELIVERED") => Ok(Some(NotificationStatusDto::Delivered)),
            Some(_) => Err(ApiError::validation("status", "must be UNDELIVERED or DELIVERED")),
        }
    }
}

/// A notification and its delivery so far.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationResponse {
    /// Also the webhook body's `id` and `Antaca-Notification-Id` header: the idempotency key.
    pub id: String,
    pub partner_id: String,
    pub balance_id: i64,
    #[schema(example = "PARTNER_BALANCE_LOW")]
    pub event: String,
    pub status: NotificationStatusDto,
    /// The JSON body POSTed to the webhook.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: String,
    pub attempts: u32,
    /// When undelivered and attempted: when the next attempt is due.
    pub next_attempt_at: Option<String>,
    /// Why the last failed attempt failed (an HTTP status, a timeout, no connection).
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

impl From<&Notification> for NotificationResponse {
    fn from(notification: &Notification) -> Self {
        let delivered = notification.delivered_at.is_some();
        NotificationResponse {
            id: notification.id.clone(),
            partner_id: notification.partner_id.clone(),
            balance_id: notification.balance_id,
            event: notification.event.clone(),
            status: if delivered {
                NotificationStatusDto::Delivered
            } else {
                NotificationStatusDto::Undelivered
            },
            payload: serde_json::from_str(&notification.payload).unwrap_or(serde_json::Value::Null),
            created_at: time(notification.created_at),
            attempts: notification.attempts,
            next_attempt_at: (!delivered && notification.attempts > 0).then(|| time(notification.next_attempt_at)),
            last_error: notification.last_error.clone(),
            delivered_at: notification.delivered_at.map(time),
        }
    }
}

fn notifications(
    api: &Api,
    scope: Scope<'_>,
    filter: &NotificationFilter,
) -> Result<Vec<NotificationResponse>, ApiError> {
    let wanted = filter.status()?;
    Ok(api
        .state
        .notifications()
        .iter()
        .filter(|notification| scope.allows(&notification.partner_id))
        .map(NotificationResponse::from)
        .filter(|response| wanted.is_none_or(|status| response.status == status))
        .collect())
}

/// The partner notification outbox, oldest first, with delivery attempts and the last error; e.g.
/// `?status=undelivered` for what partners have not acknowledged. Roles: all.
#[utoipa::path(
    get, path = "/admin/notifications", tag = "admin",
    security(("session" = [])),
    params(NotificationFilter),
    responses(
        (status = 200, description = "Notifications", body = Vec<NotificationResponse>),
        (status = 400, description = "VALIDATION_FAILED (status)", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
    )
)]
async fn admin_notifications(
    State(api): State<Api>,
    session: Authorized<ReadBalances>,
    ApiQuery(filter): ApiQuery<NotificationFilter>,
) -> Result<axum::Json<Vec<NotificationResponse>>, ApiError> {
    Ok(axum::Json(notifications(&api, session.scope(), &filter)?))
}

/// The partner's own notifications, oldest first (what its webhook received or will receive).
#[utoipa::path(
    get, path = "/secure/partner/notifications", tag = "secure",
    security(("clientCertificate" = [])),
    params(NotificationFilter),
    responses(
        (status = 200, description = "Notifications", body = Vec<NotificationResponse>),
        (status = 400, description = "VALIDATION_FAILED (status)", body = ErrorBody),
    )
)]
async fn secure_partner_notifications(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiQuery(filter): ApiQuery<NotificationFilter>,
) -> Result<axum::Json<Vec<NotificationResponse>>, ApiError> {
    Ok(axum::Json(notifications(&api, partner.scope(), &filter)?))
}
