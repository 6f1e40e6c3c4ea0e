//! Money: ISO 4217 currencies and exact amounts.
//!
//! Amounts are `rust_decimal::Decimal` in the domain and integer minor units
//! (`i64`) on the wire and in both databases; conversion between the two is
//! exact in both directions (`to_minor` refuses a fraction of a minor unit).

use rust_decimal::Decimal;

/// An ISO 4217 currency: alphabetic code, numeric code, minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    pub code: &'static str,
    pub numeric: u16,
    pub exponent: u32,
}

/// The currencies the platform serves (a subset of ISO 4217; add rows as programs need them).
const CURRENCIES: &[Currency] = &[
    Currency {
        code: "AUD",
        numeric: 36,
        exponent: 2,
    },
    Currency {
        code: "BGN",
        numeric: 975,
        exponent: 2,
    },
    Currency {
        code: "BHD",
        numeric: 48,
        exponent: 3,
    },
    Currency {
        code: "BRL",
        numeric: 986,
        exponent: 2,
    },
    Currency {
        code: "CAD",
        numeric: 124,
        exponent: 2,
    },
    Currency {
        code: "CHF",
        numeric: 756,
        exponent: 2,
    },
    Currency {
        code: "CNY",
        numeric: 156,
        exponent: 2,
    },
    Currency {
        code: "CZK",
        numeric: 203,
        exponent: 2,
    },
    Currency {
        code: "DKK",
        numeric: 208,
        exponent: 2,
    },
    Currency {
        code: "EUR",
        numeric: 978,
        exponent: 2,
    },
    Currency {
        code: "GBP",
        numeric: 826,
        exponent: 2,
    },
    Currency {
        code: "HKD",
        numeric: 344,
        exponent: 2,
    },
    Currency {
        code: "HUF",
        numeric: 348,
        exponent: 2,
    },
    Currency {
        code: "INR",
        numeric: 356,
        exponent: 2,
    },
    Currency {
        code: "JPY",
        numeric: 392,
        exponent: 0,
    },
    Currency {
        code: "KRW",
        numeric: 410,
        exponent: 0,
    },
    Currency {
        code: "KWD",
        numeric: 414,
        exponent: 3,
    },
    Currency {
        code: "MXN",
        numeric: 484,
        exponent: 2,
    },
    Currency {
        code: "NOK",
        numeric: 578,
        exponent: 2,
    },
    Currency {
        code: "NZD",
        numeric: 554,
        exponent: 2,
    },
    Currency {
        code: "PLN",
        numeric: 985,
        exponent: 2,
    },
    Currency {
        code: "RON",
        numeric: 946,
        exponent: 2,
    },
    Currency {
        code: "SEK",
        numeric: 752,
        exponent: 2,
    },
    Currency {
        code: "SGD",
        numeric: 702,
        exponent: 2,
    },
    Currency {
        code: "TRY",
        numeric: 949,
        exponent: 2,
    },
    Currency {
        code: "UAH",
        numeric: 980,
        exponent: 2,
    },
    Currency {
        code: "USD",
        numeric: 840,
        exponent: 2,
    },
    Currency {
        code: "ZAR",
        numeric: 710,
        exponent: 2,
    },
];

impl Currency {
    pub fn from_code(code: &str) -> Option<Currency> {
        CURRENCIES.iter().copied().find(|currency| currency.code == code)
    }

    pub fn from_numeric(numeric: u16) -> Option<Currency> {
        CURRENCIES.iter().copied().find(|currency| currency.numeric == numeric)
    }

    /// Minor units → exact decimal amount.
    pub fn from_minor(self, minor: i64) -> Decimal {
        Decimal::new(minor, self.exponent)
    }

    /// Exact decimal amount → minor units; `None` if it has a fraction of a minor unit or overflows.
    pub fn to_minor(self, amount: Decimal) -> Option<i64> {
        let scaled = amount.checked_mul(Decimal::from(10i64.pow(self.exponent)))?;
        if scaled.fract() != Decimal::ZERO {
            return None;
        }
        i64::try_from(scaled).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_round_trip_exactly() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(eur.from_minor(12_345), Decimal::new(12_345, 2));
        assert_eq!(eur.to_minor(Decimal::new(12_345, 2)), Some(12_345));
        assert_eq!(
            eur.to_minor(Decimal::new(12_345, 3)),
            None,
            "a fraction of a cent is refused"
        );
        let jpy = Currency::from_numeric(392).unwrap();
        assert_eq!(jpy.to_minor(Decimal::from(500)), Some(500));
    }

    #[test]
    fn numeric_and_alphabetic_codes_agree() {
        for currency in CURRENCIES {
            assert_eq!(Currency::from_numeric(currency.numeric), Some(*currency));
            assert_eq!(Currency::from_code(currency.code), Some(*currency));
        }
    }
}
