//! Physical card personalisation is external: the platform orders a card from
//! a personalisation center, which reports it personalised; the platform then
//! links it to the user and balance (visible, not active until activated).
//!
//! [`SimulatedCenter`] is the built-in center: it reports every card
//! personalised after `cards.personalization_delay_s`. Orders are not
//! remembered across a restart (a card ordered then stays `ORDERED`).

use std::time::Duration;

use crate::state::CardId;

/// A personalisation center: takes orders and reports cards personalised.
pub trait PersonalizationCenter: Send + Sync + std::fmt::Debug {
    /// Orders `card_id`; calls `personalised` once the card is made.
    fn order(&self, card_id: CardId, personalised: Box<dyn FnOnce() + Send>);
}

/// Reports every card personalised after a fixed delay.
#[derive(Debug, Clone)]
pub struct SimulatedCenter {
    pub delay: Duration,
}

impl PersonalizationCenter for SimulatedCenter {
    fn order(&self, card_id: CardId, personalised: Box<dyn FnOnce() + Send>) {
        let delay = self.delay;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            tracing::info!(card_id, "the simulated personalisation center made the card");
            personalised();
        });
    }
}
