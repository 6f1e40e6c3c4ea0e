//! Physical card personalisation is external: the platform orders a card from
//! a personalisation center, which reports it personalised; the platform then
//! links it to the user and balance (visible, not active until activated).
//!
//! [`SimulatedCenter`] is the built-in center: it reports every card
//! personalised after `cards.personalization_delay_s`. An order is the card
//! itself, durable in status `ORDERED`: after a restart [`resume_orders`]
//! places every such order again (a center identifies orders by card id, so
//! placing one twice makes one card).

use std::time::Duration;

use crate::state::{CardId, CardStatus, State};

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

/// Orders `card_id` from `center` and links it (visible, inactive) once the center reports it made.
pub fn order_and_link(center: &dyn PersonalizationCenter, state: &State, card_id: CardId) {
    let state = state.clone();
    center.order(
        card_id,
        Box::new(move || {
            tokio::spawn(async move {
                if let Err(error) = super::link(&state, card_id).await {
                    tracing::warn!(card_id, %error, "linking a personalised card failed");
                }
            });
        }),
    );
}

/// Places again the order of every card still `ORDERED` (orders made before a restart). Returns how many.
pub fn resume_orders(center: &dyn PersonalizationCenter, state: &State) -> usize {
    let ordered = state.cards_with_status(CardStatus::Ordered);
    for card_id in &ordered {
        order_and_link(center, state, *card_id);
    }
    ordered.len()
}
