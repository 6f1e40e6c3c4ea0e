//! Currency conversion: the operator's rate table. A rate converts one unit of
//! `from` into `rate` units of `to` and is valid from a time to a time (open
//! ended when `valid_to` is `None`). At a moment, the rate used is the valid one
//! that started last; a later entry overrides without deleting history.

use rust_decimal::Decimal;

use super::rounding;
use crate::domain::TimestampMs;
use crate::domain::money::Currency;

/// One row of the rate table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRate {
    /// UUID v7.
    pub id: String,
    /// ISO 4217 alphabetic codes.
    pub from: String,
    pub to: String,
    /// Units of `to` per unit of `from` (> 0).
    pub rate: Decimal,
    pub valid_from: TimestampMs,
    pub valid_to: Option<TimestampMs>,
    pub created_at: TimestampMs,
    pub created_by: String,
}

impl FxRate {
    pub fn valid_at(&self, now: TimestampMs) -> bool {
        self.valid_from <= now && self.valid_to.is_none_or(|end| now < end)
    }
}

/// The rate in force at `now` among rates of one currency pair.
pub fn rate_at(rates: &[FxRate], now: TimestampMs) -> Option<&FxRate> {
    rates
        .iter()
        .filter(|rate| rate.valid_at(now))
        .max_by_key(|rate| (rate.valid_from, rate.created_at))
}

/// Converts `amount` minor units of `from` into minor units of `to` at `rate`, rounded once with
/// the fee domain's rule (half to even). `None` on overflow.
pub fn convert(amount: i64, from: &Currency, to: &Currency, rate: Decimal) -> Option<i64> {
    let from_scale = Decimal::from(10i64.checked_pow(from.exponent)?);
    let major = Decimal::from(amount).checked_div(from_scale)?;
    rounding::to_minor_units(major.checked_mul(rate)?, to.exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(valid_from: TimestampMs, valid_to: Option<TimestampMs>, value: Decimal, created_at: TimestampMs) -> FxRate {
        FxRate {
            id: format!("{valid_from}-{created_at}"),
            from: "USD".into(),
            to: "EUR".into(),
            rate: value,
            valid_from,
            valid_to,
            created_at,
            created_by: "test".into(),
        }
    }

    #[test]
    fn the_latest_valid_rate_applies() {
        let rates = [
            rate(0, None, Decimal::new(90, 2), 0),
            rate(100, Some(200), Decimal::new(95, 2), 1),
        ];
        assert_eq!(rate_at(&rates, 50).map(|r| r.rate), Some(Decimal::new(90, 2)));
        assert_eq!(rate_at(&rates, 150).map(|r| r.rate), Some(Decimal::new(95, 2)));
        assert_eq!(rate_at(&rates, 200).map(|r| r.rate), Some(Decimal::new(90, 2)));
        assert!(rate_at(&rates, -1).is_none());
    }

    #[test]
    fn conversion_rounds_half_even_across_exponents() {
        let usd = Currency::from_code("USD").unwrap();
        let eur = Currency::from_code("EUR").unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        // 10.00 USD × 0.9215 = 921.5 cents → 922 (even).
        assert_eq!(convert(1000, &usd, &eur, Decimal::new(9215, 4)), Some(922));
        // 10.00 USD × 0.9225 = 922.5 cents → 922 (even).
        assert_eq!(convert(1000, &usd, &eur, Decimal::new(9225, 4)), Some(922));
        // 1000 JPY × 0.0062 = 6.20 EUR.
        assert_eq!(convert(1000, &jpy, &eur, Decimal::new(62, 4)), Some(620));
    }
}
