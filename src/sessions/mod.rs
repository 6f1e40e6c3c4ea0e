//! Sessions and device pairing.
//!
//! A session token is 256 random bits, handed out once and stored only as its
//! SHA-256: a token that random needs neither salt nor a slow hash, and a copy
//! of the database cannot be replayed. A session lives `session.ttl_s`; while
//! valid it can be renewed (its expiry starts again); expired, it answers
//! `Expired` until it is forgotten past `session.retention_s`.
//!
//! Mobile sessions come from device pairing: the partner's server pairs a
//! device for one of its users and receives an installation id and a token.
//! A (user, device) has at most one active installation; pairing it again
//! replaces the installation and revokes the old one's sessions. Time comes
//! from the state's clock, so tests expire sessions by moving it.

use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::state::{
    Change, CustomerId, Installation, JournalError, Scope, Session, SessionSubject, State, Submission, TimestampMs,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session token is not valid")]
    Invalid,
    #[error("the session has expired")]
    Expired,
    #[error("user not found")]
    CustomerNotFound,
    #[error("installation not found")]
    InstallationNotFound,
    #[error("another change of this is in flight")]
    Busy,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A session token in clear: given to its holder once, never stored or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(redacted)")
    }
}

/// A session just opened: its token (the only time it is seen) and the session.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub token: SessionToken,
    pub session: Session,
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_token() -> SessionToken {
    let bytes: [u8; 32] = rand::rng().random();
    SessionToken(hex::encode(bytes))
}

/// Opens a session for `subject`, valid `ttl_ms` from now.
pub async fn open(state: &State, subject: SessionSubject, ttl_ms: i64) -> Result<IssuedSession, JournalError> {
    let (change, issued) = new_session(state, subject, ttl_ms);
    let mut submission = Submission::default();
    submission.push(change);
    state.submit(submission).await?;
    Ok(issued)
}

fn new_session(state: &State, subject: SessionSubject, ttl_ms: i64) -> (Change, IssuedSession) {
    let token = new_token();
    let now = state.now_ms();
    let session = Session {
        token_hash: token_hash(token.as_str()),
        subject,
        created_at: now,
        expires_at: now + ttl_ms,
        revoked: false,
    };
    (Change::UpsertSession(session.clone()), IssuedSession { token, session })
}

/// The session a token stands for, if it is live now. A session of an
/// installation that was replaced is revoked with it.
pub fn authenticate(state: &State, token: &str) -> Result<Session, SessionError> {
    let session = state.session(&token_hash(token)).ok_or(SessionError::Invalid)?;
    if session.revoked {
        return Err(SessionError::Invalid);
    }
    if session.expires_at <= state.now_ms() {
        return Err(SessionError::Expired);
    }
    Ok(session)
}

/// Starts a live session's lifetime again; returns the new expiry.
pub async fn renew(state: &State, token: &str, ttl_ms: i64) -> Result<TimestampMs, SessionError> {
    let session = authenticate(state, token)?;
    let _reservation = state
        .reserve(format!("session:{}", hex::encode(session.token_hash)))
        .ok_or(SessionError::Busy)?;
    // Checked again under the reservation: a logout may have committed meanwhile.
    let session = authenticate(state, token)?;
    let expires_at = state.now_ms() + ttl_ms;
    let mut submission = Submission::default();
    submission.push(Change::UpsertSession(Session { expires_at, ..session }));
    state.submit(submission).await?;
    Ok(expires_at)
}

/// Ends a session (logout).
pub async fn revoke(state: &State, token: &str) -> Result<(), SessionError> {
    let session = authenticate(state, token)?;
    let _reservation = state
        .reserve(format!("session:{}", hex::encode(session.token_hash)))
        .ok_or(SessionError::Busy)?;
    let mut submission = Submission::default();
    submission.push(Change::UpsertSession(Session {
        revoked: true,
        ..session
    }));
    state.submit(submission).await?;
    Ok(())
}

/// Pairs a device for a customer of `partner`: a new active installation
/// (replacing the device's previous one for this customer, whose sessions
/// end) and a session for it, in one durable submission.
pub async fn pair_device(
    state: &State,
    partner: &str,
    customer_id: CustomerId,
    device_id: &str,
    ttl_ms: i64,
) -> Result<(Installation, IssuedSession), SessionError> {
    customer_of(state, partner, customer_id)?;
    let _reservation = state
        .reserve(format!("device:{customer_id}:{device_id}"))
        .ok_or(SessionError::Busy)?;
    let now = state.now_ms();
    let mut submission = Submission::default();
    if let Some(previous) = state.active_installation(customer_id, device_id) {
        end_installation(state, &mut submission, previous, now);
    }
    let installation = Installation {
        id: uuid::Uuid::now_v7().to_string(),
        customer_id,
        device_id: device_id.to_owned(),
        active: true,
        created_at: now,
        deactivated_at: None,
    };
    let subject = SessionSubject::Customer {
        customer_id,
        installation_id: installation.id.clone(),
    };
    let (session_change, issued) = new_session(state, subject, ttl_ms);
    submission
        .push(Change::UpsertInstallation(installation.clone()))
        .push(session_change);
    state.submit(submission).await?;
    Ok((installation, issued))
}

/// Opens a new session on an active installation, after the partner
/// authenticated its user again (the previous session expired).
pub async fn open_for_installation(
    state: &State,
    partner: &str,
    customer_id: CustomerId,
    installation_id: &str,
    ttl_ms: i64,
) -> Result<IssuedSession, SessionError> {
    customer_of(state, partner, customer_id)?;
    let installation = state
        .installation(installation_id)
        .filter(|installation| installation.customer_id == customer_id && installation.active)
        .ok_or(SessionError::InstallationNotFound)?;
    let subject = SessionSubject::Customer {
        customer_id,
        installation_id: installation.id,
    };
    Ok(open(state, subject, ttl_ms).await?)
}

fn customer_of(state: &State, partner: &str, customer_id: CustomerId) -> Result<(), SessionError> {
    match state.customer(customer_id) {
        Some(customer) if Scope::Partner(partner).allows(&customer.partner_id) => Ok(()),
        _ => Err(SessionError::CustomerNotFound),
    }
}

/// Deactivates an installation and revokes its live sessions.
fn end_installation(state: &State, submission: &mut Submission, installation: Installation, now: TimestampMs) {
    let subject = SessionSubject::Customer {
        customer_id: installation.customer_id,
        installation_id: installation.id.clone(),
    };
    for session in state.sessions_of(&subject) {
        submission.push(Change::UpsertSession(Session {
            revoked: true,
            ..session
        }));
    }
    submission.push(Change::UpsertInstallation(Installation {
        active: false,
        deactivated_at: Some(now),
        ..installation
    }));
}

/// Forgets sessions expired more than `retention_ms` ago (housekeeping).
pub async fn forget_expired(state: &State, retention_ms: i64) -> Result<(), JournalError> {
    let cutoff = state.now_ms() - retention_ms;
    let mut submission = Submission::default();
    submission.push(Change::ForgetSessionsBefore(cutoff));
    state.submit(submission).await
}

/// Forgets sessions expired past the retention window, every `interval`, until `shutdown`.
pub async fn run_housekeeping(
    state: State,
    retention_ms: i64,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = forget_expired(&state, retention_ms).await {
            tracing::warn!(%error, "forgetting expired sessions failed; will try again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_and_stored_only_hashed() {
        let (first, second) = (new_token(), new_token());
        assert_eq!(first.as_str().len(), 64);
        assert_ne!(first, second);
        assert_ne!(token_hash(first.as_str()).to_vec(), first.as_str().as_bytes().to_vec());
        assert_eq!(format!("{first:?}"), "SessionToken(redacted)");
    }
}
