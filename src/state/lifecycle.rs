//! Lifecycle memory: the records of the lifecycle API (profiles, installations, sessions,
//! administrators, KYC and KYB, notifications, card requests) with the indexes its look-ups need.

use super::*;

/// The lifecycle API's records, with the indexes its look-ups need.
#[derive(Debug, Default)]
pub(super) struct LifecycleMemory {
    pub(super) customer_by_ref: DashMap<(String, String), CustomerId>,
    pub(super) profiles: DashMap<CustomerId, CustomerProfile>,
    pub(super) installations: DashMap<String, Installation>,
    /// The active installation of each (customer, device).
    pub(super) installation_by_device: DashMap<(CustomerId, String), String>,
    pub(super) sessions: DashMap<[u8; 32], Session>,
    pub(super) admins: DashMap<String, AdminUser>,
    pub(super) admin_by_username: DashMap<String, String>,
    pub(super) kyc_submissions: DashMap<String, KycSubmission>,
    pub(super) kyc_by_customer: DashMap<CustomerId, Vec<String>>,
    pub(super) corporation_details: DashMap<CorporationId, CorporationDetails>,
    pub(super) kyb_transitions: DashMap<CorporationId, Vec<KybTransition>>,
    pub(super) notifications: DashMap<String, Notification>,
    pub(super) card_requests: DashMap<String, CardRequestRecord>,
}

impl State {
    pub fn customer_by_external_ref(&self, partner_id: &str, external_ref: &str) -> Option<CustomerId> {
        let key = (partner_id.to_owned(), external_ref.to_owned());
        self.memory.lifecycle.customer_by_ref.get(&key).map(|id| *id)
    }

    pub fn customer_profile(&self, id: CustomerId) -> Option<CustomerProfile> {
        self.memory.lifecycle.profiles.get(&id).map(|entry| entry.clone())
    }

    /// Every corporation, in id order.
    pub fn corporations(&self) -> Vec<Corporation> {
        let mut corporations: Vec<Corporation> = self.memory.corporations.iter().map(|entry| entry.clone()).collect();
        corporations.sort_by_key(|corporation| corporation.id);
        corporations
    }

    pub fn installation(&self, id: &str) -> Option<Installation> {
        self.memory.lifecycle.installations.get(id).map(|entry| entry.clone())
    }

    /// The active installation of a customer on a device.
    pub fn active_installation(&self, customer_id: CustomerId, device_id: &str) -> Option<Installation> {
        let key = (customer_id, device_id.to_owned());
        let id = self.memory.lifecycle.installation_by_device.get(&key)?.clone();
        self.installation(&id)
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> Option<Session> {
        self.memory
            .lifecycle
            .sessions
            .get(token_hash)
            .map(|entry| entry.clone())
    }

    /// The live (unrevoked) sessions of a subject.
    pub fn sessions_of(&self, subject: &SessionSubject) -> Vec<Session> {
        self.memory
            .lifecycle
            .sessions
            .iter()
            .filter(|session| !session.revoked && &session.subject == subject)
            .map(|session| session.clone())
            .collect()
    }

    pub fn admin(&self, id: &str) -> Option<AdminUser> {
        self.memory.lifecycle.admins.get(id).map(|entry| entry.clone())
    }

    pub fn admin_by_username(&self, username: &str) -> Option<AdminUser> {
        let id = self.memory.lifecycle.admin_by_username.get(username)?.clone();
        self.admin(&id)
    }

    /// Every admin user, in creation order.
    pub fn admins(&self) -> Vec<AdminUser> {
        let mut admins: Vec<AdminUser> = self.memory.lifecycle.admins.iter().map(|entry| entry.clone()).collect();
        admins.sort_by(|left, right| left.id.cmp(&right.id));
        admins
    }

    pub fn kyc_submission(&self, id: &str) -> Option<KycSubmission> {
        self.memory.lifecycle.kyc_submissions.get(id).map(|entry| entry.clone())
    }

    /// A customer's KYC submissions, oldest first.
    pub fn kyc_submissions_of(&self, customer_id: CustomerId) -> Vec<KycSubmission> {
        let ids = self
            .memory
            .lifecycle
            .kyc_by_customer
            .get(&customer_id)
            .map(|ids| ids.clone())
            .unwrap_or_default();
        ids.iter().filter_map(|id| self.kyc_submission(id)).collect()
    }

    /// Every KYC submission waiting for an administrator, oldest first.
    pub fn kyc_in_review(&self) -> Vec<KycSubmission> {
        let mut waiting: Vec<KycSubmission> = self
            .memory
            .lifecycle
            .kyc_submissions
            .iter()
            .filter(|submission| submission.status == KycSubmissionStatus::InReview)
            .map(|submission| submission.clone())
            .collect();
        waiting.sort_by(|left, right| left.id.cmp(&right.id));
        waiting
    }

    pub fn corporation_details(&self, id: CorporationId) -> Option<CorporationDetails> {
        self.memory
            .lifecycle
            .corporation_details
            .get(&id)
            .map(|entry| entry.clone())
    }

    /// A corporation's KYB transitions, oldest first.
    pub fn kyb_transitions(&self, id: CorporationId) -> Vec<KybTransition> {
        self.memory
            .lifecycle
            .kyb_transitions
            .get(&id)
            .map(|entry| entry.clone())
            .unwrap_or_default()
    }

    pub fn notification(&self, id: &str) -> Option<Notification> {
        self.memory.lifecycle.notifications.get(id).map(|entry| entry.clone())
    }

    /// Every notification in the outbox, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        let mut notifications: Vec<Notification> = self
            .memory
            .lifecycle
            .notifications
            .iter()
            .map(|entry| entry.clone())
            .collect();
        notifications.sort_by(|left, right| left.id.cmp(&right.id));
        notifications
    }

    /// Resolves when a new notification to deliver was committed since the last call (or now, if
    /// one was committed while nobody waited).
    pub async fn notification_added(&self) {
        self.memory.notification_added.notified().await
    }

    pub fn card_request(&self, id: &str) -> Option<CardRequestRecord> {
        self.memory.lifecycle.card_requests.get(id).map(|entry| entry.clone())
    }

    /// Every asynchronous card request, oldest first.
    pub fn card_requests(&self) -> Vec<CardRequestRecord> {
        let mut requests: Vec<CardRequestRecord> = self
            .memory
            .lifecycle
            .card_requests
            .iter()
            .map(|entry| entry.clone())
            .collect();
        requests.sort_by(|left, right| left.id.cmp(&right.id));
        requests
    }
}

impl Memory {
    pub(super) fn upsert_customer_profile(&self, profile: &CustomerProfile) {
        self.lifecycle.profiles.insert(profile.customer_id, profile.clone());
    }

    pub(super) fn upsert_installation(&self, installation: &Installation) {
        let key = (installation.customer_id, installation.device_id.clone());
        if installation.active {
            self.lifecycle
                .installation_by_device
                .insert(key, installation.id.clone());
        } else {
            self.lifecycle
                .installation_by_device
                .remove_if(&key, |_, id| *id == installation.id);
        }
        self.lifecycle
            .installations
            .insert(installation.id.clone(), installation.clone());
    }

    pub(super) fn upsert_session(&self, session: &Session) {
        self.lifecycle.sessions.insert(session.token_hash, session.clone());
    }

    pub(super) fn forget_sessions_before(&self, cutoff: TimestampMs) {
        self.lifecycle
            .sessions
            .retain(|_, session| session.expires_at >= cutoff);
    }

    pub(super) fn upsert_admin(&self, admin: &AdminUser) {
        self.lifecycle
            .admin_by_username
            .insert(admin.username.clone(), admin.id.clone());
        self.lifecycle.admins.insert(admin.id.clone(), admin.clone());
    }

    pub(super) fn upsert_kyc_submission(&self, submission: &KycSubmission) {
        let previous = self
            .lifecycle
            .kyc_submissions
            .insert(submission.id.clone(), submission.clone());
        if previous.is_none() {
            self.lifecycle
                .kyc_by_customer
                .entry(submission.customer_id)
                .or_default()
                .push(submission.id.clone());
        }
    }

    pub(super) fn insert_corporation_details(&self, details: &CorporationDetails) {
        self.lifecycle
            .corporation_details
            .insert(details.corporation_id, details.clone());
    }

    pub(super) fn insert_kyb_transition(&self, transition: &KybTransition) {
        self.lifecycle
            .kyb_transitions
            .entry(transition.corporation_id)
            .or_default()
            .push(transition.clone());
    }

    pub(super) fn upsert_notification(&self, notification: &Notification) {
        let undelivered = notification.delivered_at.is_none();
        let previous = self
            .lifecycle
            .notifications
            .insert(notification.id.clone(), notification.clone());
        if undelivered && previous.is_none() {
            // A permit is stored if the deliverer is busy, so no wake-up is lost.
            self.notification_added.notify_one();
        }
    }

    pub(super) fn upsert_card_request(&self, request: &CardRequestRecord) {
        self.lifecycle.card_requests.insert(request.id.clone(), request.clone());
    }
}
