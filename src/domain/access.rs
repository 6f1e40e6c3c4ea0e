//! Who may act: device installations, sessions, administrators and their roles, and the scope a
//! request acts in. Ids of these records are UUID v7 strings: made without a shared sequence, and
//! ordered by creation time.

use super::*;

/// An app installation on a device, paired for one user. At most one
/// installation per (user, device) is active; pairing again replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: String,
    pub customer_id: CustomerId,
    /// The partner app's identifier of the device.
    pub device_id: String,
    pub active: bool,
    pub created_at: TimestampMs,
    /// When it was replaced by a newer pairing of the same device and user.
    pub deactivated_at: Option<TimestampMs>,
}

/// Whom a session token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionSubject {
    /// A user's mobile app, through one installation.
    Customer {
        customer_id: CustomerId,
        installation_id: String,
    },
    /// An administration panel user.
    Admin { admin_id: String },
}

/// A session. The token itself is never stored: only its SHA-256 (a 256-bit
/// random token needs no salt or slow hash), so a copy of the database
/// cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: [u8; 32],
    pub subject: SessionSubject,
    pub created_at: TimestampMs,
    pub expires_at: TimestampMs,
    /// Logged out, or its installation was replaced.
    pub revoked: bool,
}

/// Administration panel roles (the seed's Admin, Manager, Employee) plus the
/// platform's own staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminRole {
    Admin,
    Manager,
    Employee,
    Operator,
}

/// A user of the administration panel. `partner_id` limits what it sees to
/// one partner; `None` is platform-wide (operators always are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    /// Argon2id, PHC string format (algorithm, parameters and salt included).
    pub password_hash: String,
    pub role: AdminRole,
    pub partner_id: Option<String>,
    pub active: bool,
    pub created_at: TimestampMs,
}

/// Whose customers and corporations a caller may see: one partner's (a
/// partner's certificate, a partner's admin) or every partner's (platform staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Partner(&'a str),
    All,
}

impl Scope<'_> {
    pub fn allows(&self, partner_id: &str) -> bool {
        match self {
            Scope::Partner(partner) => *partner == partner_id,
            Scope::All => true,
        }
    }
}
