//! Administration panel users: roles, what each role may do, passwords and login.
//!
//! Roles are the seed's Admin, Manager and Employee, plus Operator for the
//! platform's own staff. A user either belongs to one partner (it sees only
//! that partner's customers and corporations) or is platform-wide; operators
//! are always platform-wide. [`Permission::roles`] is the one table of who
//! may do what; every admin route names its permission.
//!
//! Passwords are stored as Argon2id PHC strings (salted, slow on purpose;
//! hashing runs on the blocking pool so it never stalls the runtime). Login
//! takes the same time whether the username exists or not.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::config::AdminConfig;
use crate::sessions::{self, IssuedSession};
use crate::state::{
    AdminRole, AdminUser, Change, JournalError, PLATFORM_PARTNER, Scope, SessionSubject, State, Submission,
};

/// What an admin route does, for the role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create and list administration panel users.
    ManageAdmins,
    /// Read customers and their KYC submissions.
    ReadCustomers,
    /// See the KYC review queue; approve or reject doubtful KYC submissions.
    ReviewKyc,
    /// Read corporations and their KYB history.
    ReadCorporations,
    /// Approve, reject or hold a corporation (KYB).
    ReviewKyb,
    /// Issue cards to a user (on the user's balance).
    IssueCards,
    /// Read partner credit and deposit balances and the balance summary.
    ReadBalances,
    /// Record a bank transfer received into a partner balance.
    LoadPartnerBalances,
    /// Set a partner balance's low-balance threshold.
    SetBalanceThresholds,
    /// Order a user's physical card and activate it; lock, unlock and remove a user's card.
    ManageCards,
    /// Open a partner credit or deposit balance.
    CreatePartnerBalances,
    /// Read and change a program's fee schedule; read its fee report.
    ManageFees,
    /// Maintain the platform's currency conversion rate table (platform-wide users only).
    ManageFxRates,
}

impl Permission {
    /// The roles that have this permission: the role table of the admin routes.
    pub fn roles(self) -> &'static [AdminRole] {
        use AdminRole::*;
        match self {
            Permission::ManageAdmins => &[Admin],
            Permission::ReadCustomers | Permission::ReadCorporations => &[Admin, Manager, Employee, Operator],
            Permission::ReviewKyc | Permission::ReviewKyb => &[Admin, Manager, Operator],
            Permission::IssueCards => &[Admin, Manager],
            Permission::ReadBalances => &[Admin, Manager, Employee, Operator],
            Permission::LoadPartnerBalances => &[Operator],
            Permission::SetBalanceThresholds => &[Admin, Manager, Operator],
            Permission::ManageCards => &[Admin, Manager, Employee],
            Permission::CreatePartnerBalances => &[Operator],
            Permission::ManageFees => &[Admin, Manager],
            Permission::ManageFxRates => &[Admin, Manager, Operator],
        }
    }
}

/// Whether `admin` may do what `permission` names.
pub fn may(admin: &AdminUser, permission: Permission) -> bool {
    admin.active && permission.roles().contains(&admin.role)
}

/// The partners whose records `admin` sees.
pub fn scope(admin: &AdminUser) -> Scope<'_> {
    match &admin.partner_id {
        Some(partner) => Scope::Partner(partner),
        None => Scope::All,
    }
}

/// `admin:<username>`: how decisions record their author.
pub fn actor(admin: &AdminUser) -> String {
    format!("admin:{}", admin.username)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("your role may not do this")]
    Forbidden,
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("the username is taken")]
    UsernameTaken,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A new administration panel user.
#[derive(Clone)]
pub struct NewAdmin {
    pub username: String,
    pub password: String,
    pub role: AdminRole,
    /// `None`: the creator's own partner, or platform-wide for a platform-wide creator.
    pub partner_id: Option<String>,
}

impl std::fmt::Debug for NewAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAdmin")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("partner_id", &self.partner_id)
            .finish_non_exhaustive()
    }
}

pub const PASSWORD_CHARS_MIN: usize = 12;
const PASSWORD_CHARS_MAX: usize = 256;

/// Creates the first administrator (role Admin, platform-wide) from the config
/// when there is no administrator yet. Returns it when it was created.
pub async fn bootstrap(state: &State, config: &AdminConfig) -> Result<Option<AdminUser>, AdminError> {
    let password = config.bootstrap_password.expose();
    if !state.admins().is_empty() {
        return Ok(None);
    }
    if password.is_empty() {
        tracing::warn!("no administrator exists and admin.bootstrap_password is empty: the admin panel has no user");
        return Ok(None);
    }
    let admin = insert(
        state,
        NewAdmin {
            username: config.bootstrap_username.trim().to_owned(),
            password: password.to_owned(),
            role: AdminRole::Admin,
            partner_id: None,
        },
    )
    .await?;
    tracing::info!(username = %admin.username, "first administrator created from admin.bootstrap_*");
    Ok(Some(admin))
}

/// Creates a user on behalf of `creator`, who must be an Admin; a partner's
/// Admin creates users of its own partner only, and never operators.
pub async fn create(state: &State, creator: &AdminUser, new: NewAdmin) -> Result<AdminUser, AdminError> {
    if !may(creator, Permission::ManageAdmins) {
        return Err(AdminError::Forbidden);
    }
    let partner_id = match (&creator.partner_id, new.partner_id.clone()) {
        (Some(own), None) => Some(own.clone()),
        (Some(own), Some(wanted)) if *own == wanted => Some(wanted),
        (Some(_), Some(_)) => return Err(AdminError::Forbidden),
        (None, wanted) => wanted,
    };
    if new.role == AdminRole::Operator && partner_id.is_some() {
        return Err(invalid(
            "partnerId",
            "operators are platform staff and belong to no partner",
        ));
    }
    if let Some(partner) = &partner_id
        && (partner == PLATFORM_PARTNER || state.partner(partner).is_none())
    {
        return Err(invalid("partnerId", "is not a configured partner"));
    }
    insert(state, NewAdmin { partner_id, ..new }).await
}

async fn insert(state: &State, new: NewAdmin) -> Result<AdminUser, AdminError> {
    validate_username(&new.username)?;
    let length = new.password.chars().count();
    if !(PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&length) {
        return Err(invalid(
            "password",
            format!("must be {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters"),
        ));
    }
    let _reservation = state
        .reserve(format!("admin-username:{}", new.username))
        .ok_or(AdminError::UsernameTaken)?;
    if state.admin_by_username(&new.username).is_some() {
        return Err(AdminError::UsernameTaken);
    }
    let password = new.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| AdminError::Hashing(error.to_string()))??;
    let admin = AdminUser {
        id: uuid::Uuid::now_v7().to_string(),
        username: new.username,
        password_hash,
        role: new.role,
        partner_id: new.partner_id,
        active: true,
        created_at: state.now_ms(),
    };
    let mut submission = Submission::default();
    submission.push(Change::UpsertAdmin(admin.clone()));
    state.submit(submission).await?;
    Ok(admin)
}

/// Checks a username and password; opens an admin session valid `ttl_ms`.
pub async fn login(
    state: &State,
    username: &str,
    password: &str,
    ttl_ms: i64,
) -> Result<(AdminUser, IssuedSession), AdminError> {
    let admin = state.admin_by_username(username).filter(|admin| admin.active);
    // An unknown user is checked against a fixed hash, so timing does not tell which usernames exist.
    let stored = admin
        .as_ref()
        .map_or_else(|| unknown_user_hash().to_owned(), |admin| admin.password_hash.clone());
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&stored, &password))
        .await
        .map_err(|error| AdminError::Hashing(error.to_string()))?;
    let admin = admin.filter(|_| matches).ok_or(AdminError::InvalidCredentials)?;
    let subject = SessionSubject::Admin {
        admin_id: admin.id.clone(),
    };
    let issued = sessions::open(state, subject, ttl_ms).await?;
    Ok((admin, issued))
}

/// The users `viewer` may see: its partner's, or all for a platform-wide Admin.
pub fn list(state: &State, viewer: &AdminUser) -> Vec<AdminUser> {
    let admins = state.admins();
    match viewer.partner_id.as_deref() {
        None => admins,
        Some(partner) => admins
            .into_iter()
            .filter(|admin| admin.partner_id.as_deref() == Some(partner))
            .collect(),
    }
}

fn validate_username(username: &str) -> Result<(), AdminError> {
    let fits = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-@".contains(&byte));
    if fits {
        Ok(())
    } else {
        Err(invalid(
            "username",
            "must be 3 to 64 characters: lowercase letters, digits, '.', '_', '-', '@'",
        ))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        field,
        message: message.into(),
    }
}

/// Argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes), a random salt, PHC string.
pub fn hash_password(password: &str) -> Result<String, AdminError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| AdminError::Hashing(error.to_string()))
}

/// Whether `password` matches a PHC hash (its own parameters and salt are used).
pub fn verify_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

fn unknown_user_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_salted_argon2id() {
        let first = hash_password("correct horse battery").unwrap();
        let second = hash_password("correct horse battery").unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second, "a fresh salt each time");
        assert!(verify_password(&first, "correct horse battery"));
        assert!(!verify_password(&first, "correct horse battery!"));
        assert!(!verify_password("not a hash", "anything"));
    }

    #[test]
    fn the_role_table() {
        use AdminRole::*;
        let admin = |role| AdminUser {
            id: "1".into(),
            username: "someone".into(),
            password_hash: String::new(),
            role,
            partner_id: None,
            active: true,
            created_at: 0,
        };
        assert!(may(&admin(Admin), Permission::ManageAdmins));
        assert!(!may(&admin(Operator), Permission::ManageAdmins));
        assert!(!may(&admin(Employee), Permission::ReviewKyb));
        assert!(may(&admin(Employee), Permission::ReadCorporations));
        let inactive = AdminUser {
            active: false,
            ..admin(Admin)
        };
        assert!(!may(&inactive, Permission::ReadCustomers));
    }
}
