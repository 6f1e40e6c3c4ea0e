//! Who is calling, one extractor per channel:
//! - [`PartnerIdentity`]: `/secure` and `/lifecycle/v1`, the partner named by
//!   the client certificate (already verified against the partner CA by TLS);
//! - [`CustomerSession`]: `/customers/me`, a mobile session token;
//! - [`AdminSession`]: `/admin`, an admin session token, with the role check.
//!
//! Extractors run before the body is read, so an unauthenticated request is
//! refused before its body is even looked at.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum_server::tls::TlsInfo;

use super::Api;
use super::error::ApiError;
use crate::admins::{self, Permission};
use crate::sessions::{self};
use crate::state::{AdminUser, CustomerId, Scope, SessionSubject};

/// The partner whose client certificate made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerIdentity(pub String);

impl PartnerIdentity {
    pub fn scope(&self) -> Scope<'_> {
        Scope::Partner(&self.0)
    }
}

impl FromRequestParts<Api> for PartnerIdentity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        // axum-server puts the TLS connection's details in every request's extensions.
        let leaf = parts
            .extensions
            .get::<Arc<TlsInfo>>()
            .and_then(|info| info.peer_certificates.first())
            .ok_or(ApiError::ClientCertificateRequired)?;
        let partner = super::tls::partner_name(leaf, api.settings.partner_name_from).ok_or(ApiError::PartnerUnknown)?;
        if !api.settings.partners.contains(&partner) {
            return Err(ApiError::PartnerUnknown);
        }
        Ok(PartnerIdentity(partner))
    }
}

/// The bearer token of the request.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or(ApiError::SessionRequired)?;
    let value = value.to_str().map_err(|_| ApiError::SessionInvalid)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::SessionInvalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::SessionInvalid);
    }
    Ok(token.trim())
}

/// A user's live mobile session.
#[derive(Debug, Clone)]
pub struct CustomerSession {
    pub customer_id: CustomerId,
    pub partner_id: String,
    pub token: String,
}

impl CustomerSession {
    pub fn scope(&self) -> Scope<'_> {
        Scope::Partner(&self.partner_id)
    }
}

impl FromRequestParts<Api> for CustomerSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let session = sessions::authenticate(&api.state, token)?;
        let SessionSubject::Customer { customer_id, .. } = session.subject else {
            return Err(ApiError::SessionInvalid);
        };
        let customer = api.state.customer(customer_id).ok_or(ApiError::SessionInvalid)?;
        Ok(CustomerSession {
            customer_id,
            partner_id: customer.partner_id,
            token: token.to_owned(),
        })
    }
}

/// An administration panel user's live session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub admin: AdminUser,
    pub token: String,
}

impl AdminSession {
    /// Refuses (403) a role the route's permission does not include.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if admins::may(&self.admin, permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn scope(&self) -> Scope<'_> {
        admins::scope(&self.admin)
    }
}

impl FromRequestParts<Api> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let session = sessions::authenticate(&api.state, token)?;
        let SessionSubject::Admin { admin_id } = session.subject else {
            return Err(ApiError::SessionInvalid);
        };
        // A deactivated user's sessions end with it.
        let admin = api
            .state
            .admin(&admin_id)
            .filter(|admin| admin.active)
            .ok_or(ApiError::SessionInvalid)?;
        Ok(AdminSession {
            admin,
            token: token.to_owned(),
        })
    }
}

/// A permission named in a handler's signature: [`Authorized`] checks it
/// before the body is read, so a role without it gets 403 whatever it sends.
pub trait RoutePermission: Send + Sync + 'static {
    const PERMISSION: Permission;
}

/// An admin session whose role has the permission `P`.
#[derive(Debug)]
pub struct Authorized<P> {
    pub session: AdminSession,
    permission: std::marker::PhantomData<P>,
}

impl<P> std::ops::Deref for Authorized<P> {
    type Target = AdminSession;
    fn deref(&self) -> &AdminSession {
        &self.session
    }
}

impl<P: RoutePermission> FromRequestParts<Api> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, Self::Rejection> {
        let session = AdminSession::from_request_parts(parts, api).await?;
        session.require(P::PERMISSION)?;
        Ok(Authorized {
            session,
            permission: std::marker::PhantomData,
        })
    }
}

/// The permissions as types, for [`Authorized`].
pub mod permission {
    use super::{Permission, RoutePermission};

    macro_rules! permissions {
        ($($name:ident),*) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl RoutePermission for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    permissions!(
        ManageAdmins,
        ReadCustomers,
        ReviewKyc,
        ReadCorporations,
        ReviewKyb,
        IssueCards,
        ReadBalances,
        LoadPartnerBalances,
        SetBalanceThresholds,
        ManageCards,
        CreatePartnerBalances,
        ManageFees,
        ManageFxRates
    );
}
