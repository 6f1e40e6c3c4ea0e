//! Partner notifications: an outbox delivered as signed webhooks.
//!
//! A notification is recorded by the state's group committer in the same commit as the change that
//! caused it (today: a partner credit or deposit balance falling below its low-balance threshold, once
//! per crossing; see `State`'s low-balance watch), so nothing on the switch's hot path waits for a
//! partner's server. The [`Deliverer`] runs in the background: it POSTs each undelivered notification
//! to its partner's configured webhook until the server answers 2xx, waiting between attempts with an
//! exponential backoff bounded by `notifications.retry_max_ms`, with jitter so retries of many
//! notifications spread out. Every attempt is recorded (attempts, last error, delivered at) through the
//! journal; undelivered notifications are picked up again after a restart.
//!
//! Each POST carries the notification's JSON (`payload`, the same bytes on every attempt), its id in
//! `Antaca-Notification-Id` (the receiver's idempotency key: a delivery whose acknowledgement was not
//! recorded is sent again), and `Antaca-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body
//! under the partner's secret.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{NotificationsConfig, WebhookConfig};
use crate::state::{Change, Notification, State, Submission};

/// The header naming the notification (the receiver's idempotency key).
pub const ID_HEADER: &str = "antaca-notification-id";
/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "antaca-signature";

/// `sha256=<lowercase hex>` of the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Waits between delivery attempts: after the n-th failed attempt, a random wait between half and all
/// of `min(base × 2^(n−1), max)` ("equal jitter": never less than half the backoff, never more than
/// the bound).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &NotificationsConfig) -> Self {
        RetryPolicy {
            base: Duration::from_millis(config.retry_base_ms),
            max: Duration::from_millis(config.retry_max_ms),
        }
    }

    /// The backoff before the attempt after `failed_attempts` failures, without jitter.
    pub fn ceiling(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The wait before the next attempt, with jitter.
    pub fn delay(&self, failed_attempts: u32) -> Duration {
        let ceiling = self.ceiling(failed_attempts).as_millis() as u64;
        let floor = ceiling / 2;
        Duration::from_millis(rand::rng().random_range(floor..=ceiling))
    }
}

/// A partner's webhook.
#[derive(Clone)]
struct Webhook {
    url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Delivers the outbox in the background (see the module documentation).
#[derive(Debug, Clone)]
pub struct Deliverer {
    state: State,
    webhooks: Arc<HashMap<String, Webhook>>,
    client: reqwest::Client,
    retry: RetryPolicy,
    request_timeout: Duration,
    in_flight: Arc<Semaphore>,
}

impl Deliverer {
    pub fn new(
        state: State,
        config: &NotificationsConfig,
        webhooks: &[WebhookConfig],
    ) -> Result<Deliverer, reqwest::Error> {
        let request_timeout = Duration::from_millis(config.request_timeout_ms);
        let client = reqwest::Client::builder()
            // A webhook answers where it was configured; a redirect is a failed attempt, not a new target.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(request_timeout)
            .build()?;
        let webhooks = webhooks
            .iter()
            .map(|webhook| {
                let endpoint = Webhook {
                    url: webhook.url.clone(),
                    secret: webhook.secret.expose().as_bytes().to_vec(),
                };
                (webhook.partner.clone(), endpoint)
            })
            .collect();
        Ok(Deliverer {
            state,
            webhooks: Arc::new(webhooks),
            client,
            retry: RetryPolicy::from_config(config),
            request_timeout,
            in_flight: Arc::new(Semaphore::new(config.in_flight_max as usize)),
        })
    }

    /// Delivers until `shutdown`: every undelivered notification of a partner with a webhook gets a
    /// task of its own (attempt, record, wait, again), at most `in_flight_max` requests at once. On
    /// shutdown, attempts under way are abandoned; their notifications stay undelivered and are sent
    /// again at the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut delivering: HashSet<String> = HashSet::new();
        let mut tasks: JoinSet<String> = JoinSet::new();
        loop {
            for notification in self.state.notifications() {
                if notification.delivered_at.is_none()
                    && self.webhooks.contains_key(&notification.partner_id)
                    && delivering.insert(notification.id.clone())
                {
                    tasks.spawn(self.clone().deliver(notification.id));
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.state.notification_added() => {}
                Some(finished) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(id) = finished {
                        delivering.remove(&id);
                    }
                }
            }
        }
        tasks.shutdown().await;
    }

    /// Attempts one notification until it is acknowledged; returns its id.
    async fn deliver(self, id: String) -> String {
        loop {
            let Some(notification) = self.state.notification(&id) else {
                return id;
            };
            if notification.delivered_at.is_some() {
                return id;
            }
            let Some(webhook) = self.webhooks.get(&notification.partner_id) else {
                return id;
            };
            let outcome = {
                let _permit = self.in_flight.acquire().await;
                self.attempt(webhook, &notification).await
            };
            let now = self.state.now_ms();
            let attempts = notification.attempts.saturating_add(1);
            let (delivered_at, last_error, wait) = match outcome {
                Ok(()) => (Some(now), notification.last_error.clone(), None),
                Err(error) => {
                    tracing::warn!(notification = %id, partner = %notification.partner_id, attempts, %error,
                        "webhook delivery failed; will retry");
                    (None, Some(error), Some(self.retry.delay(attempts)))
                }
            };
            metrics::counter!("antaca_webhook_attempts_total", "outcome" => if wait.is_none() { "delivered" } else { "failed" })
                .increment(1);
            let recorded = Notification {
                attempts,
                delivered_at,
                last_error,
                next_attempt_at: now + wait.map_or(0, |wait| wait.as_millis() as i64),
                ..notification
            };
            let mut submission = Submission::default();
            submission.push(Change::UpsertNotification(recorded));
            if let Err(error) = self.state.submit(submission).await {
                // Delivered but not recorded: sent again later (the receiver deduplicates by id).
                tracing::error!(notification = %id, %error, "recording a webhook attempt failed");
            }
            match wait {
                None => return id,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// One POST; `Err` says why it did not count as acknowledged (never the body or the secret).
    async fn attempt(&self, webhook: &Webhook, notification: &Notification) -> Result<(), String> {
        let body = notification.payload.as_bytes().to_vec();
        let response = self
            .client
            .post(&webhook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, &notification.id)
            .header(SIGNATURE_HEADER, signature(&webhook.secret, &body))
            .timeout(self.request_timeout)
            .body(body)
            .send()
            .await
            .map_err(|error| describe(&error))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// A transport error in a few words, without the URL (it may carry a partner's token).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_backoff_doubles_up_to_its_bound_and_the_jitter_stays_within_it() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1_000),
        };
        let ceilings: Vec<u128> = (1..=6).map(|failed| policy.ceiling(failed).as_millis()).collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(policy.ceiling(u32::MAX).as_millis(), 1_000);
        for failed in 1..=40 {
            let ceiling = policy.ceiling(failed);
            for _ in 0..50 {
                let delay = policy.delay(failed);
                assert!(
                    delay <= ceiling && delay >= ceiling / 2,
                    "{delay:?} outside [{ceiling:?}/2, {ceiling:?}]"
                );
            }
        }
    }
}
