//! Fee schedules: what a program charges, versioned. A change is a new version
//! with the time it applies from; earlier versions stay (history), and the
//! version in force at a moment is the latest one whose `effective_from` is at
//! or before it. Waivers are data (a fee type and a condition), so a partner
//! changes them without a release.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rounding;
use crate::domain::TimestampMs;

/// The kinds of fee the platform charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeeType {
    AccountCreation,
    CardCreation,
    Periodic,
    Pos,
    Ecommerce,
    Atm,
    MoneyTransfer,
    CurrencyConversion,
}

impl FeeType {
    pub const ALL: [FeeType; 8] = [
        FeeType::AccountCreation,
        FeeType::CardCreation,
        FeeType::Periodic,
        FeeType::Pos,
        FeeType::Ecommerce,
        FeeType::Atm,
        FeeType::MoneyTransfer,
        FeeType::CurrencyConversion,
    ];

    pub fn text(self) -> &'static str {
        match self {
            FeeType::AccountCreation => "account_creation",
            FeeType::CardCreation => "card_creation",
            FeeType::Periodic => "periodic",
            FeeType::Pos => "pos",
            FeeType::Ecommerce => "ecommerce",
            FeeType::Atm => "atm",
            FeeType::MoneyTransfer => "money_transfer",
            FeeType::CurrencyConversion => "currency_conversion",
        }
    }

    pub fn from_text(text: &str) -> Option<FeeType> {
        FeeType::ALL.into_iter().find(|fee| fee.text() == text)
    }
}

/// A fee of a fixed part (major units of the program currency) plus a percentage of the amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixedPlusPercent {
    /// Major units, e.g. "0.25".
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "0.25")]
    pub fixed: Decimal,
    /// Percent of the amount, e.g. "1.5" for 1.5 %.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "1.5")]
    pub percent: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

/// A fee per card and period, charged once the period has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeriodicFee {
    pub period: Period,
    /// Major units.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "1.99")]
    pub amount: Decimal,
}

/// When a waiver applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum WaiverCondition {
    /// Periodic fee: the card's posted spend in the period reached `amount` (major units).
    CardSpendInPeriodAtLeast {
        #[serde(with = "rust_decimal::serde::str")]
        #[schema(value_type = String, example = "1000")]
        amount: Decimal,
    },
    /// Transaction and money transfer fees: the amount reached `amount` (major units).
    AmountAtLeast {
        #[serde(with = "rust_decimal::serde::str")]
        #[schema(value_type = String, example = "500")]
        amount: Decimal,
    },
}

/// A fee not charged when its condition holds; recorded as waived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Waiver {
    pub fee: FeeType,
    pub when: WaiverCondition,
}

/// What a program charges. `enabled: false` switches every fee off (a partner that charges its
/// users in its own system).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeeSchedule {
    pub enabled: bool,
    /// Major units, charged when a balance is opened under the program.
    #[serde(with = "rust_decimal::serde::str", default)]
    #[schema(value_type = String, example = "0")]
    pub account_creation: Decimal,
    /// Major units, charged when a card is issued.
    #[serde(with = "rust_decimal::serde::str", default)]
    #[schema(value_type = String, example = "0")]
    pub card_creation: Decimal,
    #[serde(default)]
    pub periodic: Option<PeriodicFee>,
    #[serde(default)]
    pub pos: FixedPlusPercent,
    /// DE 22 entry mode 81.
    #[serde(default)]
    pub ecommerce: FixedPlusPercent,
    /// Processing code 01 or MCC 6011.
    #[serde(default)]
    pub atm: FixedPlusPercent,
    /// On balance reloads (bank transfers in).
    #[serde(default)]
    pub money_transfer: FixedPlusPercent,
    /// Percent of the converted amount when the billing currency is not the balance's.
    #[serde(with = "rust_decimal::serde::str", default)]
    #[schema(value_type = String, example = "2")]
    pub currency_conversion_percent: Decimal,
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

/// Largest fixed fee or percentage a schedule may name (a typo guard, not a business rule).
const FIXED_MAX: i64 = 1_000_000;

impl FeeSchedule {
    /// What is wrong with the schedule, as (field, problem).
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let fixed_ok = |value: Decimal| value >= Decimal::ZERO && value <= Decimal::from(FIXED_MAX);
        let percent_ok = |value: Decimal| value >= Decimal::ZERO && value <= Decimal::ONE_HUNDRED;
        let pairs = [
            ("pos", self.pos),
            ("ecommerce", self.ecommerce),
            ("atm", self.atm),
            ("moneyTransfer", self.money_transfer),
        ];
        for (field, fee) in pairs {
            if !fixed_ok(fee.fixed) || !percent_ok(fee.percent) {
                return Some((field, "fixed must be 0 to 1000000 and percent 0 to 100"));
            }
        }
        if !fixed_ok(self.account_creation) {
            return Some(("accountCreation", "must be 0 to 1000000"));
        }
        if !fixed_ok(self.card_creation) {
            return Some(("cardCreation", "must be 0 to 1000000"));
        }
        if self.periodic.is_some_and(|fee| !fixed_ok(fee.amount)) {
            return Some(("periodic", "amount must be 0 to 1000000"));
        }
        if !percent_ok(self.currency_conversion_percent) {
            return Some(("currencyConversionPercent", "must be 0 to 100"));
        }
        for waiver in &self.waivers {
            let fits = match waiver.when {
                WaiverCondition::CardSpendInPeriodAtLeast { .. } => waiver.fee == FeeType::Periodic,
                WaiverCondition::AmountAtLeast { .. } => matches!(
                    waiver.fee,
                    FeeType::Pos | FeeType::Ecommerce | FeeType::Atm | FeeType::MoneyTransfer
                ),
            };
            if !fits {
                return Some((
                    "waivers",
                    "cardSpendInPeriodAtLeast waives periodic fees; amountAtLeast waives transaction and money transfer fees",
                ));
            }
        }
        None
    }

    /// The fixed-plus-percent fee of a transaction kind.
    pub fn transaction_fee(&self, kind: FeeType) -> FixedPlusPercent {
        match kind {
            FeeType::Pos => self.pos,
            FeeType::Ecommerce => self.ecommerce,
            FeeType::Atm => self.atm,
            FeeType::MoneyTransfer => self.money_transfer,
            _ => FixedPlusPercent::default(),
        }
    }

    /// The amount-based waiver of `kind` that `amount` (minor units) meets, if any.
    pub fn amount_waiver(&self, kind: FeeType, amount: i64, exponent: u32) -> Option<&Waiver> {
        self.waivers.iter().find(|waiver| {
            waiver.fee == kind
                && match waiver.when {
                    WaiverCondition::AmountAtLeast { amount: threshold } => {
                        rounding::to_minor_units(threshold, exponent).is_some_and(|threshold| amount >= threshold)
                    }
                    WaiverCondition::CardSpendInPeriodAtLeast { .. } => false,
                }
        })
    }
}

/// One version of a program's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleVersion {
    pub program_id: String,
    /// 1, 2, …: the order of changes.
    pub version: i64,
    pub effective_from: TimestampMs,
    pub schedule: FeeSchedule,
    pub created_at: TimestampMs,
    /// `admin:<username>` or `config`.
    pub created_by: String,
}

/// The version in force at `now` among a program's versions (sorted by version).
pub fn in_force(versions: &[ScheduleVersion], now: TimestampMs) -> Option<&ScheduleVersion> {
    versions
        .iter()
        .filter(|version| version.effective_from <= now)
        .max_by_key(|version| (version.effective_from, version.version))
}

/// The fee of one authorization, in minor units of the balance currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizationFee {
    pub kind: FeeType,
    /// The transaction fee (0 when none or waived).
    pub fee: i64,
    /// What a waiver forgave (0 when none applied).
    pub waived: i64,
    /// The conversion fee (0 when the billing currency is the balance's).
    pub conversion_fee: i64,
}

impl AuthorizationFee {
    pub fn total(&self) -> i64 {
        self.fee + self.conversion_fee
    }
}

/// The kind of a card transaction: ATM for cash (processing code 01) or MCC 6011, e-commerce for
/// DE 22 entry mode 81, else POS.
pub fn transaction_kind(cash: bool, merchant_category: Option<u16>, entry_mode: Option<u8>) -> FeeType {
    if cash || merchant_category == Some(6011) {
        FeeType::Atm
    } else if entry_mode == Some(81) {
        FeeType::Ecommerce
    } else {
        FeeType::Pos
    }
}

/// The fee of an authorization of `amount` (minor units, balance currency). Pure: the schedule
/// in force was picked by the caller. `converted`: the amount came through the rate table.
pub fn authorization_fee(
    schedule: &FeeSchedule,
    kind: FeeType,
    amount: i64,
    converted: bool,
    exponent: u32,
) -> AuthorizationFee {
    let mut fee = AuthorizationFee {
        kind,
        fee: 0,
        waived: 0,
        conversion_fee: 0,
    };
    if !schedule.enabled {
        return fee;
    }
    let rule = schedule.transaction_fee(kind);
    let computed = rounding::fixed_plus_percent(rule.fixed, rule.percent, amount, exponent).unwrap_or(0);
    if schedule.amount_waiver(kind, amount, exponent).is_some() {
        fee.waived = computed;
    } else {
        fee.fee = computed;
    }
    if converted {
        fee.conversion_fee =
            rounding::fixed_plus_percent(Decimal::ZERO, schedule.currency_conversion_percent, amount, exponent)
                .unwrap_or(0);
    }
    fee
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> FeeSchedule {
        serde_json::from_str(
            r#"{"enabled":true,"pos":{"fixed":"0.10","percent":"1"},"atm":{"fixed":"2","percent":"0"},
                "ecommerce":{"fixed":"0","percent":"2.5"},"currencyConversionPercent":"2",
                "waivers":[{"fee":"pos","when":{"amountAtLeast":{"amount":"500"}}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn kinds_follow_processing_mcc_and_entry_mode() {
        assert_eq!(transaction_kind(true, None, Some(81)), FeeType::Atm);
        assert_eq!(transaction_kind(false, Some(6011), None), FeeType::Atm);
        assert_eq!(transaction_kind(false, Some(5411), Some(81)), FeeType::Ecommerce);
        assert_eq!(transaction_kind(false, Some(5411), Some(5)), FeeType::Pos);
    }

    #[test]
    fn fees_waivers_conversion_and_switched_off() {
        let schedule = schedule();
        let pos = authorization_fee(&schedule, FeeType::Pos, 1050, false, 2);
        assert_eq!((pos.fee, pos.waived, pos.conversion_fee), (20, 0, 0)); // 0.10 + 0.105 = 0.205 → 0.20 (even)
        let big = authorization_fee(&schedule, FeeType::Pos, 50_000, false, 2);
        assert_eq!((big.fee, big.waived), (0, 510));
        let atm = authorization_fee(&schedule, FeeType::Atm, 1000, true, 2);
        assert_eq!((atm.fee, atm.conversion_fee), (200, 20));
        let off = FeeSchedule {
            enabled: false,
            ..schedule
        };
        assert_eq!(authorization_fee(&off, FeeType::Atm, 1000, true, 2).total(), 0);
    }

    #[test]
    fn the_latest_version_in_force_applies() {
        let version = |version, effective_from| ScheduleVersion {
            program_id: "p".into(),
            version,
            effective_from,
            schedule: FeeSchedule::default(),
            created_at: 0,
            created_by: "test".into(),
        };
        let versions = [version(1, 0), version(2, 100), version(3, 50)];
        assert_eq!(in_force(&versions, 10).map(|v| v.version), Some(1));
        assert_eq!(in_force(&versions, 60).map(|v| v.version), Some(3));
        assert_eq!(in_force(&versions, 100).map(|v| v.version), Some(2));
        assert!(in_force(&versions[1..], 10).is_none());
    }

    #[test]
    fn misplaced_waivers_and_negative_fees_are_refused() {
        let mut schedule = schedule();
        assert!(schedule.problem().is_none());
        schedule.waivers.push(Waiver {
            fee: FeeType::Pos,
            when: WaiverCondition::CardSpendInPeriodAtLeast { amount: Decimal::ONE },
        });
        assert_eq!(schedule.problem().map(|p| p.0), Some("waivers"));
        schedule.waivers.clear();
        schedule.pos.percent = Decimal::from(-1);
        assert_eq!(schedule.problem().map(|p| p.0), Some("pos"));
    }
}
