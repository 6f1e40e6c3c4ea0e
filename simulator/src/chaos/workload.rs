//! The seeded workload: what each lane sends and which fault each round
//! brings. Everything here is drawn from `StdRng`s seeded from the run's seed
//! alone, so the same seed gives the same operations and the same faults.
//! Some operations name their target by position ("the k-th open hold"), so
//! which hold they touch depends on the answers (an authorization answered
//! 9109 during an outage leaves no hold); the draws do not.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One thing a lane does to its own cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// 2100 purchase authorization; `oversized` asks for more than the funds.
    Authorize { card: usize, amount: i64, oversized: bool },
    /// 2120: the network approved on the issuer's behalf; held even when short.
    Advice { card: usize, amount: i64 },
    /// 2200 purchase (posted at once).
    Purchase { card: usize, amount: i64 },
    /// 2200 refund (processing 20).
    Refund { card: usize, amount: i64 },
    /// 2220 completing the `pick`-th open hold at `percent` of its amount.
    Complete { pick: usize, percent: i64 },
    /// 2420 of the `pick`-th open hold: full, or partial leaving `remaining_percent`.
    Reverse {
        pick: usize,
        remaining_percent: Option<i64>,
    },
    /// A 2420 for an authorization not sent yet, then that authorization.
    ReverseFirst { card: usize, amount: i64 },
    /// The `pick`-th answered request sent again as is (a duplicate) or as a repeat (last MTI digit 1).
    Resend { pick: usize, repeat: bool },
    /// Over HTTP: lock (reason 3 or 7) when unlocked, unlock when locked.
    ToggleLock { card: usize, reason: u8 },
    /// Over HTTP: a reload of the card's balance.
    Reload { card: usize, amount: i64 },
    /// 2100 balance inquiry: DE 54 against the model.
    Inquiry { card: usize },
}

/// How a request's connection is broken, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The request is sent whole, then the connection closed before the answer.
    AfterSend,
    /// Half of the frame is sent, then the connection closed.
    HalfFrame,
}

#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub op: Op,
    pub disconnect: Option<Disconnect>,
}

/// A lane's operations, drawn one by one.
#[derive(Debug)]
pub struct LaneWorkload {
    rng: StdRng,
    cards: usize,
}

impl LaneWorkload {
    pub fn new(seed: u64, lane: usize, cards: usize) -> LaneWorkload {
        LaneWorkload {
            rng: StdRng::seed_from_u64(seed ^ (lane as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            cards,
        }
    }

    pub fn next_step(&mut self) -> Step {
        let rng = &mut self.rng;
        let card = rng.random_range(0..self.cards);
        let amount = rng.random_range(1..=20_000);
        let pick = rng.random_range(0..1_000);
        let op = match rng.random_range(0..100) {
            0..35 => Op::Authorize {
                card,
                amount,
                oversized: false,
            },
            35..38 => Op::Authorize {
                card,
                amount: 0,
                oversized: true,
            },
            38..43 => Op::Advice { card, amount },
            43..51 => Op::Purchase { card, amount },
            51..54 => Op::Refund { card, amount },
            54..62 => Op::Complete {
                pick,
                percent: rng.random_range(50..=120),
            },
            62..70 => Op::Reverse {
                pick,
                remaining_percent: None,
            },
            70..75 => Op::Reverse {
                pick,
                remaining_percent: Some(rng.random_range(10..=90)),
            },
            75..78 => Op::ReverseFirst { card, amount },
            78..86 => Op::Resend {
                pick,
                repeat: rng.random_bool(0.5),
            },
            86..89 => Op::ToggleLock {
                card,
                reason: if rng.random_bool(0.5) { 3 } else { 7 },
            },
            89..92 => Op::Reload { card, amount },
            _ => Op::Inquiry { card },
        };
        let disconnect = match rng.random_range(0..100) {
            0..3 => Some(Disconnect::AfterSend),
            3..5 => Some(Disconnect::HalfFrame),
            _ => None,
        };
        Step { op, disconnect }
    }
}

/// A fault brought by one round, `after_ms` into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL of the switch, then a restart.
    KillSwitch { after_ms: u64 },
    /// PostgreSQL stopped (immediate), down for `down_ms`, started again.
    StopPostgres { after_ms: u64, down_ms: u64 },
    /// Every PostgreSQL process frozen (SIGSTOP) for `pause_ms`: commits hang, then go on.
    SlowCommits { after_ms: u64, pause_ms: u64 },
    /// No fault: the round runs clean.
    Calm,
}

/// The faults, round after round.
#[derive(Debug)]
pub struct FaultSchedule {
    rng: StdRng,
}

impl FaultSchedule {
    pub fn new(seed: u64) -> FaultSchedule {
        FaultSchedule {
            rng: StdRng::seed_from_u64(seed ^ 0xFA17_FA17_FA17_FA17),
        }
    }

    pub fn next_fault(&mut self) -> Fault {
        let rng = &mut self.rng;
        let after_ms = rng.random_range(0..1_500);
        match rng.random_range(0..100) {
            0..35 => Fault::KillSwitch { after_ms },
            35..55 => Fault::StopPostgres {
                after_ms,
                down_ms: rng.random_range(500..4_000),
            },
            55..80 => Fault::SlowCommits {
                after_ms,
                pause_ms: rng.random_range(100..2_000),
            },
            _ => Fault::Calm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_workload_and_faults() {
        let draw = |seed| {
            let mut lane = LaneWorkload::new(seed, 3, 4);
            let steps: Vec<String> = (0..500).map(|_| format!("{:?}", lane.next_step())).collect();
            let mut faults = FaultSchedule::new(seed);
            let faults: Vec<Fault> = (0..50).map(|_| faults.next_fault()).collect();
            (steps, faults)
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }
}
