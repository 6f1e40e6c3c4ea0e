//! The domain: partners and their card programs, customers, corporations, balances and the money
//! movements between them, cards, holds, recorded answers, fees, and money itself.
//!
//! A leaf: it depends on nothing else of the crate, so every layer above (state, store, the
//! switch, the API) shares one meaning of each record.
//!
//! Amounts are integer minor units (`i64`) of the owning balance's currency:
//! exact, cheap on the hot path, and what both databases and the wire carry.
//! `rust_decimal` appears where fractions can arise (fees, conversion, the API).

mod access;
mod balances;
mod cards;
mod corporations;
mod customers;
pub mod fees;
mod holds;
mod ids;
pub mod money;
mod outbox;
mod partners;

pub use access::*;
pub use balances::*;
pub use cards::*;
pub use corporations::*;
pub use customers::*;
pub use holds::*;
pub use ids::*;
pub use outbox::*;
pub use partners::*;

/// The lifecycle records loaded at start-up (in no particular order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleRecords {
    pub customer_profiles: Vec<CustomerProfile>,
    pub installations: Vec<Installation>,
    pub sessions: Vec<Session>,
    pub admins: Vec<AdminUser>,
    pub kyc_submissions: Vec<KycSubmission>,
    pub corporation_details: Vec<CorporationDetails>,
    pub kyb_transitions: Vec<KybTransition>,
    pub notifications: Vec<Notification>,
    pub card_requests: Vec<CardRequestRecord>,
}
