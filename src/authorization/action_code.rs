//! DE 39 action codes of the network contract. Declines are values, not errors.

/// An ISO 8583:2003 action code (network-interface.md, "Action codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionCode {
    Approved,
    DoNotHonour,
    ExpiredCard,
    SuspectedFraud,
    PinTriesExceeded,
    InvalidAmount,
    InvalidCardNumber,
    FunctionNotSupported,
    NotSufficientFunds,
    IncorrectPin,
    CardNotActive,
    SuspectedCounterfeit,
    LostCardPickUp,
    StolenCardPickUp,
    FileActionSuccessful,
    ReversalAccepted,
    Accepted,
    MessageError,
    SystemMalfunction,
    OriginalNotFound,
}

impl ActionCode {
    /// The four digits written in DE 39.
    pub const fn code(self) -> &'static [u8; 4] {
        match self {
            ActionCode::Approved => b"0000",
            ActionCode::DoNotHonour => b"1000",
            ActionCode::ExpiredCard => b"1001",
            ActionCode::SuspectedFraud => b"1002",
            ActionCode::PinTriesExceeded => b"1006",
            ActionCode::InvalidAmount => b"1010",
            ActionCode::InvalidCardNumber => b"1011",
            ActionCode::FunctionNotSupported => b"1015",
            ActionCode::NotSufficientFunds => b"1016",
            ActionCode::IncorrectPin => b"1017",
            ActionCode::CardNotActive => b"1018",
            ActionCode::SuspectedCounterfeit => b"1029",
            ActionCode::LostCardPickUp => b"2008",
            ActionCode::StolenCardPickUp => b"2009",
            ActionCode::FileActionSuccessful => b"3000",
            ActionCode::ReversalAccepted => b"4000",
            ActionCode::Accepted => b"8000",
            ActionCode::MessageError => b"9100",
            ActionCode::SystemMalfunction => b"9109",
            ActionCode::OriginalNotFound => b"9114",
        }
    }

    pub fn as_str(self) -> &'static str {
        std::str::from_utf8(self.code()).unwrap_or("????")
    }

    pub fn from_code(code: &[u8]) -> Option<ActionCode> {
        ALL.iter().copied().find(|action| action.code().as_slice() == code)
    }

    /// True for the codes that approve or accept (0xxx, 3xxx, 4xxx, 8xxx).
    pub fn is_approval(self) -> bool {
        matches!(
            self,
            ActionCode::Approved
                | ActionCode::FileActionSuccessful
                | ActionCode::ReversalAccepted
                | ActionCode::Accepted
        )
    }
}

pub const ALL: [ActionCode; 20] = [
    ActionCode::Approved,
    ActionCode::DoNotHonour,
    ActionCode::ExpiredCard,
    ActionCode::SuspectedFraud,
    ActionCode::PinTriesExceeded,
    ActionCode::InvalidAmount,
    ActionCode::InvalidCardNumber,
    ActionCode::FunctionNotSupported,
    ActionCode::NotSufficientFunds,
    ActionCode::IncorrectPin,
    ActionCode::CardNotActive,
    ActionCode::SuspectedCounterfeit,
    ActionCode::LostCardPickUp,
    ActionCode::StolenCardPickUp,
    ActionCode::FileActionSuccessful,
    ActionCode::ReversalAccepted,
    ActionCode::Accepted,
    ActionCode::MessageError,
    ActionCode::SystemMalfunction,
    ActionCode::OriginalNotFound,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        for action in ALL {
            assert_eq!(ActionCode::from_code(action.code()), Some(action));
        }
        let mut codes: Vec<_> = ALL.iter().map(|a| a.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
    }
}
