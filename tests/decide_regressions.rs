//! Inputs the `decide` fuzz target (fuzz/fuzz_targets/decide.rs) found, sent through the real
//! frame handler (`Switch::answer`, what the TCP server calls) on an in-memory state.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use antaca::authorization::Switch;
use antaca::authorization::operations::Settings;
use antaca::config::Config;
use antaca::crypto::CardKeys;
use antaca::crypto::pin_block::ZonePinKey;
use antaca::iso8583::{Message, OutMessage, Spec};
use antaca::network::Reply;
use antaca::state::journal::{BatchId, CommitTarget, Written};
use antaca::state::{Change, JournalError, JournalLimits, LoadedState, ManualClock, State};

/// Accepts every batch without storing it (these tests need memory only).
#[derive(Debug)]
struct NoStorage;

impl CommitTarget for NoStorage {
    fn commit<'a>(
        &'a self,
        _: BatchId,
        _: &'a [Change],
        _: Written,
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

fn switch() -> (Arc<Spec>, Switch) {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = Config::load_with_env(&Path::new(root).join("config.toml"), std::iter::empty()).unwrap();
    let spec = Arc::new(Spec::load(&Path::new(root).join("specs/iso8583_2003_ascii.yaml")).unwrap());
    let keys = CardKeys::new(config.crypto.data_key.bytes(), config.crypto.lookup_key.bytes()).unwrap();
    let limits = JournalLimits {
        batch_max: 64,
        batch_wait: Duration::ZERO,
        queue_max: 64,
        commits_in_flight_max: 1,
    };
    let clock = Arc::new(ManualClock::new(1_795_521_600_000));
    let (state, _committer) = State::open(LoadedState::default(), Arc::new(NoStorage), limits, keys, clock);
    let settings = Settings {
        zone_pin_key: ZonePinKey::new(config.authorization.zone_pin_key.bytes()).unwrap(),
        pin_tries_max: 3,
        hold_ttl_ms: 86_400_000,
    };
    (spec.clone(), Switch::new(spec, state, settings))
}

/// Found by `decide` (a hang): a completion or reversal whose DE 56 names its own DE 11, 12 and 32
/// claimed its identity, then waited on that claim as its original's, for ever (and so did every
/// repeat of it). It is a malformed DE 56: answered 9100 at once.
#[tokio::test]
async fn a_completion_or_reversal_naming_itself_as_its_original_is_answered_9100() {
    let (spec, switch) = switch();
    for (mti, function_code) in [(2220, b"201"), (2221, b"201"), (2420, b"400"), (2421, b"400")] {
        let mut message = OutMessage::new(mti);
        message
            .set_text(2, b"5399990000000000")
            .set_text(3, b"000000")
            .set_text(4, b"000000001000")
            .set_text(11, b"000015")
            .set_text(12, b"261124120500")
            .set_text(24, function_code)
            .set_text(32, b"98765432101")
            .set_text(49, b"978")
            // MTI 2100, DE 11, DE 12, then DE 32 as LL + digits: the message's own identity.
            .set_text(56, b"21000000152611241205001198765432101");
        let mut frame = Vec::new();
        message.encode_into(&spec, &mut frame).unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), switch.answer(&frame))
            .await
            .unwrap_or_else(|_| panic!("{mti} naming itself is answered, not left waiting"));
        let Reply::Send(answer) = reply else {
            panic!("{mti}: an answer, not {reply:?}");
        };
        let answer = Message::decode(&spec, &answer).unwrap();
        assert_eq!(answer.str(39), Some("9100"), "{mti}");
        assert_eq!(answer.str(11), Some("000015"), "{mti}: the answer echoes the STAN");
    }
    switch.state().check_invariants().unwrap();
}
