//! PostgreSQL: the writers of the lifecycle API's records (profiles, installations, administrators,
//! sessions, KYC submissions, corporation details, KYB transitions, notifications, card requests).

#[allow(
    clippy::wildcard_imports,
    reason = "the writers use the parent's helpers and the domain records alike"
)]
use super::*;

pub(super) async fn upsert_customer_profiles(
    connection: &mut PgConnection,
    rows: &[&CustomerProfile],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO customer_profiles (customer_id, email, phone, first_name, last_name, updated_at) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
         ON CONFLICT (customer_id) DO UPDATE SET email = EXCLUDED.email, phone = EXCLUDED.phone, \
         first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, updated_at = EXCLUDED.updated_at",
    )
    .bind(column(rows, |row| row.customer_id))
    .bind(column(rows, |row| row.email.as_deref()))
    .bind(column(rows, |row| row.phone.as_deref()))
    .bind(column(rows, |row| row.first_name.as_deref()))
    .bind(column(rows, |row| row.last_name.as_deref()))
    .bind(column(rows, |row| row.updated_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn upsert_installations(
    connection: &mut PgConnection,
    rows: &[&Installation],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO installations (id, customer_id, device_id, active, created_at, deactivated_at) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::bool[], $5::int8[], $6::int8[]) \
         ON CONFLICT (id) DO UPDATE SET active = EXCLUDED.active, deactivated_at = EXCLUDED.deactivated_at",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.customer_id))
    .bind(column(rows, |row| row.device_id.as_str()))
    .bind(column(rows, |row| row.active))
    .bind(column(rows, |row| row.created_at))
    .bind(column(rows, |row| row.deactivated_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn upsert_admins(connection: &mut PgConnection, rows: &[&AdminUser]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO admin_users (id, username, password_hash, role, partner_id, active, created_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::int8[]) \
         ON CONFLICT (id) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, \
         partner_id = EXCLUDED.partner_id, active = EXCLUDED.active",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.username.as_str()))
    .bind(column(rows, |row| row.password_hash.as_str()))
    .bind(column(rows, |row| row.role.text()))
    .bind(column(rows, |row| row.partner_id.as_deref()))
    .bind(column(rows, |row| row.active))
    .bind(column(rows, |row| row.created_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn upsert_sessions(connection: &mut PgConnection, rows: &[&Session]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let subjects = column(rows, |row| subject_columns(&row.subject));
    sqlx::query(
        "INSERT INTO sessions (token_hash, subject_kind, customer_id, installation_id, admin_id, created_at, \
         expires_at, revoked) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[], $7::int8[], \
         $8::bool[]) \
         ON CONFLICT (token_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at, revoked = EXCLUDED.revoked",
    )
    .bind(column(rows, |row| &row.token_hash[..]))
    .bind(column(&subjects, |subject| subject.kind))
    .bind(column(&subjects, |subject| subject.customer_id))
    .bind(column(&subjects, |subject| subject.installation_id))
    .bind(column(&subjects, |subject| subject.admin_id))
    .bind(column(rows, |row| row.created_at))
    .bind(column(rows, |row| row.expires_at))
    .bind(column(rows, |row| row.revoked))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn upsert_notifications(
    connection: &mut PgConnection,
    rows: &[&Notification],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    const TABLE: &str = "notifications";
    sqlx::query(
        "INSERT INTO notifications (id, partner_id, balance_id, event, payload, created_at, attempts, \
         next_attempt_at, last_error, delivered_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[], $7::int4[], \
         $8::int8[], $9::text[], $10::int8[]) \
         ON CONFLICT (id) DO UPDATE SET attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at, \
         last_error = EXCLUDED.last_error, delivered_at = EXCLUDED.delivered_at",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.partner_id.as_str()))
    .bind(column(rows, |row| row.balance_id))
    .bind(column(rows, |row| row.event.as_str()))
    .bind(column(rows, |row| row.payload.as_str()))
    .bind(column(rows, |row| row.created_at))
    .bind(column_checked(rows, |row| {
        fits::<i32>(row.attempts, TABLE, "attempts")
    })?)
    .bind(column(rows, |row| row.next_attempt_at))
    .bind(column(rows, |row| row.last_error.as_deref()))
    .bind(column(rows, |row| row.delivered_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn upsert_card_requests(
    connection: &mut PgConnection,
    rows: &[&CardRequestRecord],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO card_requests (id, customer_id, balance_id, program_id, status, card_id, error, created_at) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::int8[], $7::text[], \
         $8::int8[]) \
         ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, card_id = EXCLUDED.card_id, error = EXCLUDED.error",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.customer_id))
    .bind(column(rows, |row| row.balance_id))
    .bind(column(rows, |row| row.program_id.as_deref()))
    .bind(column(rows, |row| row.status.text()))
    .bind(column(rows, |row| row.card_id))
    .bind(column(rows, |row| row.error.as_deref()))
    .bind(column(rows, |row| row.created_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn upsert_kyc_submissions(
    connection: &mut PgConnection,
    rows: &[&KycSubmission],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    const TABLE: &str = "kyc_submissions";
    sqlx::query(
        "INSERT INTO kyc_submissions (id, customer_id, source, data, status, findings, decided_by, reason, \
         created_at, decided_at) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::int8[], $10::int8[]) \
         ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, findings = EXCLUDED.findings, \
         decided_by = EXCLUDED.decided_by, reason = EXCLUDED.reason, decided_at = EXCLUDED.decided_at",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.customer_id))
    .bind(column(rows, |row| row.source.text()))
    .bind(column_checked(rows, |row| {
        row.data.as_ref().map(|data| to_json(data, TABLE, "data")).transpose()
    })?)
    .bind(column(rows, |row| row.status.text()))
    .bind(column_checked(rows, |row| to_json(&row.findings, TABLE, "findings"))?)
    .bind(column(rows, |row| row.decided_by.as_deref()))
    .bind(column(rows, |row| row.reason.as_deref()))
    .bind(column(rows, |row| row.created_at))
    .bind(column(rows, |row| row.decided_at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn insert_corporation_details(
    connection: &mut PgConnection,
    rows: &[&CorporationDetails],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    const TABLE: &str = "corporation_details";
    sqlx::query(
        "INSERT INTO corporation_details (corporation_id, registration_number, tax_id, address, documents) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(column(rows, |row| row.corporation_id))
    .bind(column(rows, |row| row.registration_number.as_str()))
    .bind(column(rows, |row| row.tax_id.as_deref()))
    .bind(column_checked(rows, |row| to_json(&row.address, TABLE, "address"))?)
    .bind(column_checked(rows, |row| to_json(&row.documents, TABLE, "documents"))?)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) async fn insert_kyb_transitions(
    connection: &mut PgConnection,
    rows: &[&KybTransition],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO kyb_transitions (id, corporation_id, from_status, to_status, actor, reason, at) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[])",
    )
    .bind(column(rows, |row| row.id.as_str()))
    .bind(column(rows, |row| row.corporation_id))
    .bind(column(rows, |row| row.from.map(Code::text)))
    .bind(column(rows, |row| row.to.text()))
    .bind(column(rows, |row| row.actor.as_str()))
    .bind(column(rows, |row| row.reason.as_deref()))
    .bind(column(rows, |row| row.at))
    .execute(&mut *connection)
    .await?;
    Ok(())
}
