-- The durable state (PostgreSQL). Same logical schema as migrations/sqlite/0001_state.sql.
--
-- Money: BIGINT minor units of the balance's currency. Timestamps: BIGINT milliseconds since the Unix
-- epoch (UTC), as in the domain. Enumerations: TEXT with CHECK constraints, spelled as in
-- src/store/codes.rs. Ids are numbered by the in-memory state (it continues from MAX(id) at start-up),
-- so there are no sequences. Transaction identities (DE 32 / DE 11 / DE 12) are TEXT in their
-- `TransactionId` Display form.
--
-- References: tables written at the pace of people (partners, programs, customers, corporations,
-- balances, cards) have FOREIGN KEYs. The three tables written with every authorization (holds,
-- transfers, recorded_answers) do not: a foreign key is checked by a trigger per row and per
-- reference, which cost two thirds of a group commit's time here. The store checks their references
-- set-wise instead, once per batch before it commits (src/store: `References`), and a batch with a
-- reference to a missing row stores nothing. Nothing deletes a card, balance or hold, so a
-- reference checked once stays valid.

CREATE TABLE partners (
    id         TEXT PRIMARY KEY CHECK (id <> ''),
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE programs (
    id              TEXT PRIMARY KEY CHECK (id <> ''),
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    bin             TEXT NOT NULL CHECK (bin ~ '^[0-9]{6,12}$'),
    currency        TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    funding         TEXT NOT NULL CHECK (funding IN ('partner_credit', 'partner_deposit')),
    validity_months INTEGER NOT NULL CHECK (validity_months > 0)
);

CREATE TABLE customers (
    id           BIGINT PRIMARY KEY,
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    -- The partner's own reference for the user; NULLs do not collide.
    external_ref TEXT,
    kyc_status   TEXT NOT NULL CHECK (kyc_status IN ('not_started', 'pending', 'verified', 'rejected')),
    created_at   BIGINT NOT NULL,
    UNIQUE (partner_id, external_ref)
);

CREATE TABLE corporations (
    id         BIGINT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    name       TEXT NOT NULL,
    kyb_status TEXT NOT NULL CHECK (kyb_status IN ('submitted', 'approved', 'rejected', 'on_hold')),
    created_at BIGINT NOT NULL
);

-- Updated by every authorization (ledger/held deltas): room on each page for HOT updates.
CREATE TABLE balances (
    id                    BIGINT PRIMARY KEY,
    kind                  TEXT NOT NULL
        CHECK (kind IN ('user', 'corporate', 'partner_credit', 'partner_deposit', 'system')),
    -- The owner: exactly the column named by owner_kind is set.
    owner_kind            TEXT NOT NULL CHECK (owner_kind IN ('customer', 'corporation', 'partner', 'system')),
    owner_customer_id     BIGINT REFERENCES customers (id),
    owner_corporation_id  BIGINT REFERENCES corporations (id),
    owner_partner_id      TEXT REFERENCES partners (id),
    owner_system          TEXT,
    partner_id            TEXT NOT NULL REFERENCES partners (id),
    currency              TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    ledger                BIGINT NOT NULL,
    -- The sum of the balance's open holds.
    held                  BIGINT NOT NULL CHECK (held >= 0),
    state                 TEXT NOT NULL CHECK (state IN ('active', 'blocked', 'closed')),
    low_balance_threshold BIGINT,
    created_at            BIGINT NOT NULL,
    CONSTRAINT balances_owner CHECK (
        (owner_customer_id IS NOT NULL) = (owner_kind = 'customer')
        AND (owner_corporation_id IS NOT NULL) = (owner_kind = 'corporation')
        AND (owner_partner_id IS NOT NULL) = (owner_kind = 'partner')
        AND (owner_system IS NOT NULL) = (owner_kind = 'system'))
) WITH (fillfactor = 80);

CREATE TABLE cards (
    id               BIGINT PRIMARY KEY,
    balance_id       BIGINT NOT NULL REFERENCES balances (id),
    program_id       TEXT NOT NULL REFERENCES programs (id),
    kind             TEXT NOT NULL CHECK (kind IN ('virtual', 'physical')),
    status           TEXT NOT NULL CHECK (status IN ('ordered', 'linked', 'active', 'locked', 'removed')),
    -- The contract's lock reason code, set exactly when the card is locked.
    lock_reason      SMALLINT CHECK (lock_reason IN (1, 2, 3, 4, 5, 6, 7, 8, 11)),
    -- HMAC-SHA256 of the PAN: the look-up key. The PAN itself is only stored encrypted.
    pan_hash         BYTEA NOT NULL UNIQUE CHECK (octet_length(pan_hash) = 32),
    pan_encrypted    BYTEA NOT NULL,
    pan_first6       TEXT NOT NULL CHECK (pan_first6 ~ '^[0-9]{6}$'),
    pan_last4        TEXT NOT NULL CHECK (pan_last4 ~ '^[0-9]{4}$'),
    -- YYMM.
    expiry           TEXT NOT NULL CHECK (expiry ~ '^[0-9]{4}$'),
    cvc_encrypted    BYTEA NOT NULL,
    pin_verification BYTEA CHECK (octet_length(pin_verification) = 32),
    pin_tries        INTEGER NOT NULL CHECK (pin_tries >= 0),
    created_at       BIGINT NOT NULL,
    CONSTRAINT cards_lock_reason CHECK ((status = 'locked') = (lock_reason IS NOT NULL))
);
CREATE INDEX cards_balance_id ON cards (balance_id);

-- References cards (card_id) and balances (user_balance_id, partner_balance_id); see the top.
CREATE TABLE holds (
    id                 BIGINT PRIMARY KEY,
    transaction_id     TEXT NOT NULL UNIQUE,
    card_id            BIGINT NOT NULL,
    user_balance_id    BIGINT NOT NULL,
    partner_balance_id BIGINT,
    amount             BIGINT NOT NULL CHECK (amount >= 0),
    remaining          BIGINT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'completed', 'reversed', 'expired')),
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    -- An open hold never holds more than was authorized; a completed one carries
    -- the posted amount (a completion may post more or less than was held).
    CONSTRAINT holds_remaining CHECK (remaining >= 0 AND (status <> 'open' OR remaining <= amount))
);
-- Start-up loads the open holds only; closed ones leave this index.
CREATE INDEX holds_open ON holds (id) WHERE status = 'open';

-- Double entry: `amount` leaves the debit balance and enters the credit balance. Only money entering
-- the platform from outside (an external load) has no debit balance. References balances (debit and
-- credit) and holds (hold_id); see the top.
CREATE TABLE transfers (
    id                BIGINT PRIMARY KEY,
    kind              TEXT NOT NULL
        CHECK (kind IN ('external_load', 'reload', 'card_debit', 'card_credit', 'reversal_credit')),
    debit_balance_id  BIGINT,
    credit_balance_id BIGINT NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount > 0),
    transaction_id    TEXT,
    hold_id           BIGINT,
    created_at        BIGINT NOT NULL,
    CONSTRAINT transfers_debit CHECK (debit_balance_id IS NOT NULL OR kind = 'external_load'),
    CONSTRAINT transfers_sides CHECK (debit_balance_id <> credit_balance_id)
);

-- The answer given to each transaction, for duplicate detection during the retention window.
-- References holds (hold_id); see the top.
CREATE TABLE recorded_answers (
    transaction_id     TEXT PRIMARY KEY,
    mti                INTEGER NOT NULL CHECK (mti BETWEEN 0 AND 9999),
    action_code        TEXT NOT NULL CHECK (action_code ~ '^[0-9]{4}$'),
    approval_code      TEXT CHECK (length(approval_code) = 6),
    -- DE 54: minor units and the ISO 4217 numeric code of their currency.
    available          BIGINT,
    available_currency SMALLINT CHECK (available_currency BETWEEN 0 AND 999),
    hold_id            BIGINT,
    created_at         BIGINT NOT NULL,
    CONSTRAINT recorded_answers_available CHECK ((available IS NULL) = (available_currency IS NULL))
);
-- Start-up loads the answers of the retention window; the retention sweep deletes the older ones.
CREATE INDEX recorded_answers_created_at ON recorded_answers (created_at);
