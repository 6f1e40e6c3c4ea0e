//! Fees over HTTP: `/admin` reads and changes a program's fee schedule (a new version applying
//! from a given time; history kept), maintains the FX rate table and reads the fee report;
//! `/secure` lets a partner read its programs' schedules. Another partner's program answers 404,
//! as an unknown one does.

use axum::extract::State;
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Api;
use super::auth::permission::{ManageFees, ManageFxRates};
use super::auth::{Authorized, PartnerIdentity};
use super::dto::time;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::admins;
use crate::fees::{DAY_MS, FeeSchedule, FeeType, FxRate, ScheduleVersion};
use crate::state::{Change, ProgramEntry, Scope, Submission, TimestampMs};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(admin_read_schedule, admin_change_schedule))
        .routes(routes!(fee_report))
        .routes(routes!(list_fx_rates, add_fx_rate))
        .routes(routes!(secure_read_schedule))
}

/// One version of a program's fee schedule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleVersionResponse {
    pub version: i64,
    /// RFC 3339: when this version starts to apply.
    pub effective_from: String,
    pub schedule: FeeSchedule,
    pub created_at: String,
    pub created_by: String,
}

impl From<&ScheduleVersion> for ScheduleVersionResponse {
    fn from(version: &ScheduleVersion) -> Self {
        ScheduleVersionResponse {
            version: version.version,
            effective_from: time(version.effective_from),
            schedule: version.schedule.clone(),
            created_at: time(version.created_at),
            created_by: version.created_by.clone(),
        }
    }
}

/// A program's fee schedule: the version in force now and every version (history, oldest first).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeScheduleResponse {
    pub program_id: String,
    pub currency: String,
    /// `null` when no version is in force (none yet, or only future ones).
    pub current: Option<ScheduleVersionResponse>,
    pub versions: Vec<ScheduleVersionResponse>,
}

/// A new version of a program's fee schedule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeScheduleRequest {
    /// RFC 3339, not in the past; omitted: now.
    pub effective_from: Option<String>,
    pub schedule: FeeSchedule,
}

/// A row of the FX rate table.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FxRateResponse {
    pub id: String,
    pub from: String,
    pub to: String,
    /// Units of `to` per unit of `from`.
    pub rate: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

impl From<&FxRate> for FxRateResponse {
    fn from(rate: &FxRate) -> Self {
        FxRateResponse {
            id: rate.id.clone(),
            from: rate.from.clone(),
            to: rate.to.clone(),
            rate: rate.rate.to_string(),
            valid_from: time(rate.valid_from),
            valid_to: rate.valid_to.map(time),
            created_at: time(rate.created_at),
            created_by: rate.created_by.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddFxRateRequest {
    /// ISO 4217 alphabetic code of the billing (network) currency.
    #[schema(example = "USD")]
    pub from: String,
    /// ISO 4217 alphabetic code of the balance currency.
    #[schema(example = "EUR")]
    pub to: String,
    /// Units of `to` per unit of `from`, > 0.
    #[schema(example = "0.9215")]
    pub rate: String,
    /// RFC 3339; omitted: now.
    pub valid_from: Option<String>,
    /// RFC 3339, after `validFrom`; omitted: until replaced.
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportPeriod {
    /// First UTC day of the period, YYYY-MM-DD; omitted: the first day of the current month.
    pub from: Option<String>,
    /// Last UTC day of the period (included), YYYY-MM-DD; omitted: today.
    pub to: Option<String>,
}

/// Fees of one type in the period, minor units of the program currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeTypeTotals {
    pub fee_type: FeeType,
    /// Moved from users to the fee-revenue account.
    pub charged: i64,
    /// Returned by reversals.
    pub refunded: i64,
    /// Forgiven by waivers.
    pub waived: i64,
    /// Not collected: the balance was short.
    pub unpaid: i64,
    pub entries: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeReportResponse {
    pub program_id: String,
    pub currency: String,
    pub from: String,
    pub to: String,
    pub by_type: Vec<FeeTypeTotals>,
    /// Charged less refunded, over every type.
    pub net_charged: i64,
    pub waived: i64,
    pub unpaid: i64,
}

/// The program `program_id` if `scope` may see it.
fn visible_program(api: &Api, scope: Scope<'_>, program_id: &str) -> Result<std::sync::Arc<ProgramEntry>, ApiError> {
    api.state
        .program(program_id)
        .filter(|entry| scope.allows(&entry.program.partner_id))
        .ok_or(ApiError::NotFound("program"))
}

fn schedule_response(api: &Api, program: &ProgramEntry) -> FeeScheduleResponse {
    let now = api.state.now_ms();
    let versions = api.state.fee_schedules(&program.program.id);
    FeeScheduleResponse {
        program_id: program.program.id.clone(),
        currency: program.program.currency.clone(),
        current: crate::fees::schedule::in_force(&versions, now).map(ScheduleVersionResponse::from),
        versions: versions.iter().map(ScheduleVersionResponse::from).collect(),
    }
}

fn parse_time(field: &str, text: &str) -> Result<TimestampMs, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|moment| moment.timestamp_millis())
        .map_err(|_| ApiError::validation(field, "must be an RFC 3339 time"))
}

fn parse_day(field: &str, text: &str) -> Result<i64, ApiError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|date| {
            date.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis()
                / DAY_MS
        })
        .map_err(|_| ApiError::validation(field, "must be a date YYYY-MM-DD"))
}

/// A program's fee schedule: the version in force and the history. Roles: Admin, Manager.
#[utoipa::path(
    get, path = "/admin/programs/{programId}/fees", tag = "admin",
    security(("session" = [])),
    params(("programId" = String, Path, description = "The card program")),
    responses(
        (status = 200, description = "The schedule", body = FeeScheduleResponse),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PROGRAM_NOT_FOUND", body = ErrorBody),
    )
)]
async fn admin_read_schedule(
    State(api): State<Api>,
    session: Authorized<ManageFees>,
    ApiPath(program_id): ApiPath<String>,
) -> Result<axum::Json<FeeScheduleResponse>, ApiError> {
    let program = visible_program(&api, session.scope(), &program_id)?;
    Ok(axum::Json(schedule_response(&api, &program)))
}

/// Changes a program's fee schedule: a new version that applies from `effectiveFrom` (now when
/// omitted; never in the past, so what was charged stays explained by the history). `enabled:
/// false` switches the program's fees off. Roles: Admin, Manager.
#[utoipa::path(
    put, path = "/admin/programs/{programId}/fees", tag = "admin",
    security(("session" = [])),
    params(("programId" = String, Path, description = "The card program")),
    request_body = ChangeScheduleRequest,
    responses(
        (status = 200, description = "The schedule with the new version", body = FeeScheduleResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PROGRAM_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "CONCURRENT_CHANGE: another change of the schedule is in flight", body = ErrorBody),
    )
)]
async fn admin_change_schedule(
    State(api): State<Api>,
    session: Authorized<ManageFees>,
    ApiPath(program_id): ApiPath<String>,
    ApiJson(request): ApiJson<ChangeScheduleRequest>,
) -> Result<axum::Json<FeeScheduleResponse>, ApiError> {
    let program = visible_program(&api, session.scope(), &program_id)?;
    if let Some((field, problem)) = request.schedule.problem() {
        return Err(ApiError::validation(format!("schedule.{field}"), problem));
    }
    let now = api.state.now_ms();
    let effective_from = match &request.effective_from {
        Some(text) => parse_time("effectiveFrom", text)?,
        None => now,
    };
    if effective_from < now {
        return Err(ApiError::validation("effectiveFrom", "must not be in the past"));
    }
    // One change of a program's schedule at a time, so version numbers never collide.
    let _reservation = api
        .state
        .reserve(format!("fee-schedule:{program_id}"))
        .ok_or_else(|| ApiError::conflict("CONCURRENT_CHANGE", "another change of this schedule is in flight"))?;
    let version = api
        .state
        .fee_schedules(&program_id)
        .last()
        .map_or(1, |last| last.version + 1);
    let mut submission = Submission::default();
    submission.push(Change::InsertFeeSchedule(ScheduleVersion {
        program_id: program_id.clone(),
        version,
        effective_from,
        schedule: request.schedule,
        created_at: now,
        created_by: admins::actor(&session.admin),
    }));
    api.state.submit(submission).await?;
    Ok(axum::Json(schedule_response(&api, &program)))
}

/// Fees of a program over a period of UTC days, by type: charged, refunded, waived, unpaid.
/// Roles: Admin, Manager.
#[utoipa::path(
    get, path = "/admin/programs/{programId}/fee-report", tag = "admin",
    security(("session" = [])),
    params(("programId" = String, Path, description = "The card program"), ReportPeriod),
    responses(
        (status = 200, description = "The report", body = FeeReportResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
        (status = 404, description = "PROGRAM_NOT_FOUND", body = ErrorBody),
    )
)]
async fn fee_report(
    State(api): State<Api>,
    session: Authorized<ManageFees>,
    ApiPath(program_id): ApiPath<String>,
    ApiQuery(period): ApiQuery<ReportPeriod>,
) -> Result<axum::Json<FeeReportResponse>, ApiError> {
    let program = visible_program(&api, session.scope(), &program_id)?;
    let today = chrono::DateTime::from_timestamp_millis(api.state.now_ms())
        .unwrap_or_default()
        .date_naive();
    let from = period.from.unwrap_or_else(|| today.format("%Y-%m-01").to_string());
    let to = period.to.unwrap_or_else(|| today.format("%Y-%m-%d").to_string());
    let from_day = parse_day("from", &from)?;
    let to_day = parse_day("to", &to)?;
    if to_day < from_day {
        return Err(ApiError::validation("to", "must not be before from"));
    }
    let by_type: Vec<FeeTypeTotals> = api
        .state
        .fee_totals(&program_id, from_day, to_day + 1)
        .into_iter()
        .map(|(fee_type, totals)| FeeTypeTotals {
            fee_type,
            charged: totals.charged,
            refunded: totals.refunded,
            waived: totals.waived,
            unpaid: totals.unpaid,
            entries: totals.entries,
        })
        .collect();
    Ok(axum::Json(FeeReportResponse {
        program_id,
        currency: program.program.currency.clone(),
        from,
        to,
        net_charged: by_type.iter().map(|t| t.charged - t.refunded).sum(),
        waived: by_type.iter().map(|t| t.waived).sum(),
        unpaid: by_type.iter().map(|t| t.unpaid).sum(),
        by_type,
    }))
}

/// The FX rate table, oldest first. Roles: Admin, Manager, Operator.
#[utoipa::path(
    get, path = "/admin/fx-rates", tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "Every rate", body = [FxRateResponse]),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
    )
)]
async fn list_fx_rates(
    State(api): State<Api>,
    _session: Authorized<ManageFxRates>,
) -> Result<axum::Json<Vec<FxRateResponse>>, ApiError> {
    Ok(axum::Json(
        api.state.fx_rates().iter().map(FxRateResponse::from).collect(),
    ))
}

/// Adds a rate to the table; from `validFrom` it overrides earlier rates of the pair (which stay,
/// as history). Platform-wide Admin, Manager or Operator only: rates serve every partner.
#[utoipa::path(
    post, path = "/admin/fx-rates", tag = "admin",
    security(("session" = [])),
    request_body = AddFxRateRequest,
    responses(
        (status = 201, description = "Added", body = FxRateResponse),
        (status = 400, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 403, description = "FORBIDDEN", body = ErrorBody),
    )
)]
async fn add_fx_rate(
    State(api): State<Api>,
    session: Authorized<ManageFxRates>,
    ApiJson(request): ApiJson<AddFxRateRequest>,
) -> Result<(StatusCode, axum::Json<FxRateResponse>), ApiError> {
    if session.scope() != Scope::All {
        return Err(ApiError::Forbidden);
    }
    let currency = |field: &str, code: &str| {
        let code = code.trim().to_ascii_uppercase();
        crate::domain::money::Currency::from_code(&code)
            .map(|currency| currency.code.to_owned())
            .ok_or_else(|| ApiError::validation(field, "is not a known ISO 4217 code"))
    };
    let from = currency("from", &request.from)?;
    let to = currency("to", &request.to)?;
    if from == to {
        return Err(ApiError::validation("to", "must differ from from"));
    }
    let rate: Decimal = request
        .rate
        .trim()
        .parse()
        .ok()
        .filter(|rate: &Decimal| *rate > Decimal::ZERO)
        .ok_or_else(|| ApiError::validation("rate", "must be a decimal number above 0"))?;
    let now = api.state.now_ms();
    let valid_from = match &request.valid_from {
        Some(text) => parse_time("validFrom", text)?,
        None => now,
    };
    let valid_to = request
        .valid_to
        .as_deref()
        .map(|text| parse_time("validTo", text))
        .transpose()?;
    if valid_to.is_some_and(|end| end <= valid_from) {
        return Err(ApiError::validation("validTo", "must be after validFrom"));
    }
    let row = FxRate {
        id: uuid::Uuid::now_v7().to_string(),
        from,
        to,
        rate,
        valid_from,
        valid_to,
        created_at: now,
        created_by: admins::actor(&session.admin),
    };
    let mut submission = Submission::default();
    submission.push(Change::InsertFxRate(row.clone()));
    api.state.submit(submission).await?;
    Ok((StatusCode::CREATED, axum::Json(FxRateResponse::from(&row))))
}

/// The fee schedule of one of the partner's programs: the version in force and the history.
#[utoipa::path(
    get, path = "/secure/programs/{programId}/fees", tag = "secure",
    params(("programId" = String, Path, description = "The card program")),
    responses(
        (status = 200, description = "The schedule", body = FeeScheduleResponse),
        (status = 404, description = "PROGRAM_NOT_FOUND", body = ErrorBody),
    )
)]
async fn secure_read_schedule(
    State(api): State<Api>,
    partner: PartnerIdentity,
    ApiPath(program_id): ApiPath<String>,
) -> Result<axum::Json<FeeScheduleResponse>, ApiError> {
    let program = visible_program(&api, partner.scope(), &program_id)?;
    Ok(axum::Json(schedule_response(&api, &program)))
}
