//! The one rounding rule of the fee domain: a fee is computed exactly in
//! `Decimal`, then rounded ONCE, half to even ("banker's rounding"), to the
//! minor unit of the currency it is charged in. Half-even has no bias over many
//! charges (halves go up as often as down), which is why it is the rule.
//!
//! Shares of a fee (what a partial reversal returns, what a completion of a
//! different amount posts) are never rounded on their own: the share of the
//! fee still owed is rounded from the exact whole, and what moves is the
//! difference between two such roundings. Successive differences telescope,
//! so the entries of one fee always sum to the fee, to the minor unit.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds an amount of major units to whole minor units of a currency with `exponent` decimals,
/// half to even. `None` when the result does not fit an `i64`.
pub fn to_minor_units(amount: Decimal, exponent: u32) -> Option<i64> {
    let minor = amount
        .checked_mul(Decimal::from(10i64.checked_pow(exponent)?))?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    i64::try_from(minor).ok()
}

/// Rounds an amount of minor units (with a fraction) to whole minor units, half to even.
pub fn round_minor(amount: Decimal) -> Option<i64> {
    i64::try_from(amount.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)).ok()
}

/// A fixed part (major units) plus a percentage of `base` (minor units), rounded once.
pub fn fixed_plus_percent(fixed: Decimal, percent: Decimal, base: i64, exponent: u32) -> Option<i64> {
    let scale = Decimal::from(10i64.checked_pow(exponent)?);
    let exact = fixed.checked_mul(scale)? + percent.checked_mul(Decimal::from(base))? / Decimal::ONE_HUNDRED;
    round_minor(exact)
}

/// The part of `fee` that goes with `part` of `whole`: `fee × part / whole`, rounded once.
/// Zero when `whole` is zero. The difference of two shares is what moves when `part` changes,
/// so the moves of one fee sum to its last share exactly.
pub fn share(fee: i64, part: i64, whole: i64) -> i64 {
    if whole == 0 || fee == 0 {
        return 0;
    }
    let exact = Decimal::from(fee) * Decimal::from(part) / Decimal::from(whole);
    round_minor(exact).unwrap_or(fee)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn halves_go_to_even() {
        assert_eq!(to_minor_units(Decimal::new(1005, 3), 2), Some(100)); // 1.005 → 1.00
        assert_eq!(to_minor_units(Decimal::new(1015, 3), 2), Some(102)); // 1.015 → 1.02
        assert_eq!(to_minor_units(Decimal::new(12345, 4), 3), Some(1234)); // 1.2345 BHD → 1.234
        assert_eq!(to_minor_units(Decimal::new(5, 1), 0), Some(0)); // 0.5 JPY → 0
        assert_eq!(to_minor_units(Decimal::new(15, 1), 0), Some(2));
        // 0.10 + 1.5 % of 10.50 = 0.10 + 0.1575 = 0.2575 → 0.26
        assert_eq!(
            fixed_plus_percent(Decimal::new(10, 2), Decimal::new(15, 1), 1050, 2),
            Some(26)
        );
        // 1 % of 0.50 = 0.005 → 0.00 (half to even)
        assert_eq!(fixed_plus_percent(Decimal::ZERO, Decimal::ONE, 50, 2), Some(0));
        assert_eq!(fixed_plus_percent(Decimal::ZERO, Decimal::ONE, 150, 2), Some(2));
    }

    proptest! {
        /// Whatever sequence of partial reversals a fee goes through, the refunds and what is
        /// finally kept sum to the fee charged, to the minor unit.
        #[test]
        fn shares_of_a_fee_sum_to_the_fee(
            fee in 0i64..10_000_000,
            amount in 1i64..1_000_000_000,
            cuts in proptest::collection::vec(0u32..=100, 0..8),
        ) {
            let mut remaining = amount;
            let mut owed = share(fee, remaining, amount);
            prop_assert_eq!(owed, fee);
            let mut returned = 0i64;
            for cut in cuts {
                let next = remaining - remaining * i64::from(cut) / 100;
                let next_owed = share(fee, next, amount);
                returned += owed - next_owed;
                prop_assert!(next_owed >= 0 && next_owed <= owed);
                owed = next_owed;
                remaining = next;
            }
            prop_assert_eq!(returned + owed, fee);
            if remaining == 0 {
                prop_assert_eq!(owed, 0);
            }
        }

        /// A fee is within half a minor unit of its exact value, and is the even neighbour on ties.
        #[test]
        fn rounding_is_half_even_and_within_half_a_unit(
            fixed_cents in 0i64..100_000,
            percent_bp in 0i64..10_000,
            base in 0i64..10_000_000_000,
        ) {
            let fixed = Decimal::new(fixed_cents, 2);
            let percent = Decimal::new(percent_bp, 2);
            let fee = fixed_plus_percent(fixed, percent, base, 2).unwrap();
            let exact = fixed * Decimal::ONE_HUNDRED + percent * Decimal::from(base) / Decimal::ONE_HUNDRED;
            let difference = (Decimal::from(fee) - exact).abs();
            prop_assert!(difference <= Decimal::new(5, 1));
            if difference == Decimal::new(5, 1) {
                prop_assert_eq!(fee % 2, 0);
            }
        }

        /// Total charged = sum of entries: splitting a total into per-type fees rounded once each,
        /// and recording each as an entry, the report's total is the sum of the entries exactly.
        #[test]
        fn total_charged_is_the_sum_of_entries(
            amounts in proptest::collection::vec(1i64..100_000_000, 1..20),
            percent_bp in 0i64..1_000,
        ) {
            let percent = Decimal::new(percent_bp, 2);
            let entries: Vec<i64> = amounts
                .iter()
                .map(|&amount| fixed_plus_percent(Decimal::ZERO, percent, amount, 2).unwrap())
                .collect();
            let total: i64 = entries.iter().sum();
            let recomputed: i64 = amounts
                .iter()
                .map(|&amount| share(fixed_plus_percent(Decimal::ZERO, percent, amount, 2).unwrap(), amount, amount))
                .sum();
            prop_assert_eq!(total, recomputed);
        }
    }
}
