//! SQLite: the writers of the lifecycle API's records (profiles, installations, administrators,
//! sessions, KYC submissions, corporation details, KYB transitions, notifications, card requests).

#[allow(
    clippy::wildcard_imports,
    reason = "the writers use the parent's helpers and the domain records alike"
)]
use super::*;

pub(super) async fn upsert_customer_profiles(
    connection: &mut SqliteConnection,
    rows: &[&CustomerProfile],
) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO customer_profiles (customer_id, email, phone, first_name, last_name, updated_at) ",
        6,
        " ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, phone = excluded.phone, \
         first_name = excluded.first_name, last_name = excluded.last_name, updated_at = excluded.updated_at",
        rows,
        |values, row| {
            values
                .push_bind(row.customer_id)
                .push_bind(row.email.as_deref())
                .push_bind(row.phone.as_deref())
                .push_bind(row.first_name.as_deref())
                .push_bind(row.last_name.as_deref())
                .push_bind(row.updated_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_installations(
    connection: &mut SqliteConnection,
    rows: &[&Installation],
) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO installations (id, customer_id, device_id, active, created_at, deactivated_at) ",
        6,
        " ON CONFLICT (id) DO UPDATE SET active = excluded.active, deactivated_at = excluded.deactivated_at",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.customer_id)
                .push_bind(row.device_id.as_str())
                .push_bind(i64::from(row.active))
                .push_bind(row.created_at)
                .push_bind(row.deactivated_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_admins(connection: &mut SqliteConnection, rows: &[&AdminUser]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO admin_users (id, username, password_hash, role, partner_id, active, created_at) ",
        7,
        " ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, \
         partner_id = excluded.partner_id, active = excluded.active",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.username.as_str())
                .push_bind(row.password_hash.as_str())
                .push_bind(row.role.text())
                .push_bind(row.partner_id.as_deref())
                .push_bind(i64::from(row.active))
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_sessions(connection: &mut SqliteConnection, rows: &[&Session]) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO sessions (token_hash, subject_kind, customer_id, installation_id, admin_id, created_at, \
         expires_at, revoked) ",
        8,
        " ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at, revoked = excluded.revoked",
        rows,
        |values, row| {
            let subject = subject_columns(&row.subject);
            values
                .push_bind(&row.token_hash[..])
                .push_bind(subject.kind)
                .push_bind(subject.customer_id)
                .push_bind(subject.installation_id)
                .push_bind(subject.admin_id)
                .push_bind(row.created_at)
                .push_bind(row.expires_at)
                .push_bind(i64::from(row.revoked));
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_notifications(
    connection: &mut SqliteConnection,
    rows: &[&Notification],
) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO notifications (id, partner_id, balance_id, event, payload, created_at, attempts, \
         next_attempt_at, last_error, delivered_at) ",
        10,
        " ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, \
         last_error = excluded.last_error, delivered_at = excluded.delivered_at",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.partner_id.as_str())
                .push_bind(row.balance_id)
                .push_bind(row.event.as_str())
                .push_bind(row.payload.as_str())
                .push_bind(row.created_at)
                .push_bind(i64::from(row.attempts))
                .push_bind(row.next_attempt_at)
                .push_bind(row.last_error.as_deref())
                .push_bind(row.delivered_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_card_requests(
    connection: &mut SqliteConnection,
    rows: &[&CardRequestRecord],
) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO card_requests (id, customer_id, balance_id, program_id, status, card_id, error, created_at) ",
        8,
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, card_id = excluded.card_id, error = excluded.error",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.customer_id)
                .push_bind(row.balance_id)
                .push_bind(row.program_id.as_deref())
                .push_bind(row.status.text())
                .push_bind(row.card_id)
                .push_bind(row.error.as_deref())
                .push_bind(row.created_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_kyc_submissions(
    connection: &mut SqliteConnection,
    rows: &[&KycSubmission],
) -> Result<(), StoreError> {
    const TABLE: &str = "kyc_submissions";
    write_rows(
        connection,
        "INSERT INTO kyc_submissions (id, customer_id, source, data, status, findings, decided_by, reason, \
         created_at, decided_at) ",
        10,
        " ON CONFLICT (id) DO UPDATE SET status = excluded.status, findings = excluded.findings, \
         decided_by = excluded.decided_by, reason = excluded.reason, decided_at = excluded.decided_at",
        rows,
        |values, row| {
            let data = row.data.as_ref().map(|data| to_json(data, TABLE, "data")).transpose()?;
            values
                .push_bind(row.id.as_str())
                .push_bind(row.customer_id)
                .push_bind(row.source.text())
                .push_bind(data)
                .push_bind(row.status.text())
                .push_bind(to_json(&row.findings, TABLE, "findings")?)
                .push_bind(row.decided_by.as_deref())
                .push_bind(row.reason.as_deref())
                .push_bind(row.created_at)
                .push_bind(row.decided_at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn insert_corporation_details(
    connection: &mut SqliteConnection,
    rows: &[&CorporationDetails],
) -> Result<(), StoreError> {
    const TABLE: &str = "corporation_details";
    write_rows(
        connection,
        "INSERT INTO corporation_details (corporation_id, registration_number, tax_id, address, documents) ",
        5,
        "",
        rows,
        |values, row| {
            values
                .push_bind(row.corporation_id)
                .push_bind(row.registration_number.as_str())
                .push_bind(row.tax_id.as_deref())
                .push_bind(to_json(&row.address, TABLE, "address")?)
                .push_bind(to_json(&row.documents, TABLE, "documents")?);
            Ok(())
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn insert_kyb_transitions(
    connection: &mut SqliteConnection,
    rows: &[&KybTransition],
) -> Result<(), StoreError> {
    write_rows(
        connection,
        "INSERT INTO kyb_transitions (id, corporation_id, from_status, to_status, actor, reason, at) ",
        7,
        "",
        rows,
        |values, row| {
            values
                .push_bind(row.id.as_str())
                .push_bind(row.corporation_id)
                .push_bind(row.from.map(Code::text))
                .push_bind(row.to.text())
                .push_bind(row.actor.as_str())
                .push_bind(row.reason.as_deref())
                .push_bind(row.at);
            Ok(())
        },
    )
    .await?;
    Ok(())
}
