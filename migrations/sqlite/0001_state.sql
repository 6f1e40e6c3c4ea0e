-- The durable state (SQLite). Same logical schema as migrations/postgres/0001_state.sql; read that file
-- for the conventions. SQLite specifics: STRICT tables (a value of the wrong type is an error, not a
-- conversion), INTEGER for every integer width, BLOB for bytes, GLOB patterns instead of regular
-- expressions, WITHOUT ROWID where the key is text. As there, holds, transfers and recorded_answers
-- have no FOREIGN KEYs: the store checks their references once per batch, the same way on both.

CREATE TABLE partners (
    id         TEXT PRIMARY KEY CHECK (id <> ''),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE programs (
    id              TEXT PRIMARY KEY CHECK (id <> ''),
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    bin             TEXT NOT NULL CHECK (length(bin) BETWEEN 6 AND 12 AND bin NOT GLOB '*[^0-9]*'),
    currency        TEXT NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    funding         TEXT NOT NULL CHECK (funding IN ('partner_credit', 'partner_deposit')),
    validity_months INTEGER NOT NULL CHECK (validity_months > 0)
) STRICT, WITHOUT ROWID;

CREATE TABLE customers (
    id           INTEGER PRIMARY KEY,
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    external_ref TEXT,
    kyc_status   TEXT NOT NULL CHECK (kyc_status IN ('not_started', 'pending', 'verified', 'rejected')),
    created_at   INTEGER NOT NULL,
    UNIQUE (partner_id, external_ref)
) STRICT;

CREATE TABLE corporations (
    id         INTEGER PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    name       TEXT NOT NULL,
    kyb_status TEXT NOT NULL CHECK (kyb_status IN ('submitted', 'approved', 'rejected', 'on_hold')),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE balances (
    id                    INTEGER PRIMARY KEY,
    kind                  TEXT NOT NULL
        CHECK (kind IN ('user', 'corporate', 'partner_credit', 'partner_deposit', 'system')),
    owner_kind            TEXT NOT NULL CHECK (owner_kind IN ('customer', 'corporation', 'partner', 'system')),
    owner_customer_id     INTEGER REFERENCES customers (id),
    owner_corporation_id  INTEGER REFERENCES corporations (id),
    owner_partner_id      TEXT REFERENCES partners (id),
    owner_system          TEXT,
    partner_id            TEXT NOT NULL REFERENCES partners (id),
    currency              TEXT NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    ledger                INTEGER NOT NULL,
    held                  INTEGER NOT NULL CHECK (held >= 0),
    state                 TEXT NOT NULL CHECK (state IN ('active', 'blocked', 'closed')),
    low_balance_threshold INTEGER,
    created_at            INTEGER NOT NULL,
    CONSTRAINT balances_owner CHECK (
        (owner_customer_id IS NOT NULL) = (owner_kind = 'customer')
        AND (owner_corporation_id IS NOT NULL) = (owner_kind = 'corporation')
        AND (owner_partner_id IS NOT NULL) = (owner_kind = 'partner')
        AND (owner_system IS NOT NULL) = (owner_kind = 'system'))
) STRICT;

CREATE TABLE cards (
    id               INTEGER PRIMARY KEY,
    balance_id       INTEGER NOT NULL REFERENCES balances (id),
    program_id       TEXT NOT NULL REFERENCES programs (id),
    kind             TEXT NOT NULL CHECK (kind IN ('virtual', 'physical')),
    status           TEXT NOT NULL CHECK (status IN ('ordered', 'linked', 'active', 'locked', 'removed')),
    lock_reason      INTEGER CHECK (lock_reason IN (1, 2, 3, 4, 5, 6, 7, 8, 11)),
    pan_hash         BLOB NOT NULL UNIQUE CHECK (length(pan_hash) = 32),
    pan_encrypted    BLOB NOT NULL,
    pan_first6       TEXT NOT NULL CHECK (pan_first6 GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]'),
    pan_last4        TEXT NOT NULL CHECK (pan_last4 GLOB '[0-9][0-9][0-9][0-9]'),
    expiry           TEXT NOT NULL CHECK (expiry GLOB '[0-9][0-9][0-9][0-9]'),
    cvc_encrypted    BLOB NOT NULL,
    pin_verification BLOB CHECK (length(pin_verification) = 32),
    pin_tries        INTEGER NOT NULL CHECK (pin_tries >= 0),
    created_at       INTEGER NOT NULL,
    CONSTRAINT cards_lock_reason CHECK ((status = 'locked') = (lock_reason IS NOT NULL))
) STRICT;
CREATE INDEX cards_balance_id ON cards (balance_id);

CREATE TABLE holds (
    id                 INTEGER PRIMARY KEY,
    transaction_id     TEXT NOT NULL UNIQUE,
    card_id            INTEGER NOT NULL,
    user_balance_id    INTEGER NOT NULL,
    partner_balance_id INTEGER,
    amount             INTEGER NOT NULL CHECK (amount >= 0),
    remaining          INTEGER NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'completed', 'reversed', 'expired')),
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    -- An open hold never holds more than was authorized; a completed one carries
    -- the posted amount (a completion may post more or less than was held).
    CONSTRAINT holds_remaining CHECK (remaining >= 0 AND (status <> 'open' OR remaining <= amount))
) STRICT;
CREATE INDEX holds_open ON holds (id) WHERE status = 'open';

CREATE TABLE transfers (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL
        CHECK (kind IN ('external_load', 'reload', 'card_debit', 'card_credit', 'reversal_credit')),
    debit_balance_id  INTEGER,
    credit_balance_id INTEGER NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    transaction_id    TEXT,
    hold_id           INTEGER,
    created_at        INTEGER NOT NULL,
    CONSTRAINT transfers_debit CHECK (debit_balance_id IS NOT NULL OR kind = 'external_load'),
    CONSTRAINT transfers_sides CHECK (debit_balance_id <> credit_balance_id)
) STRICT;

CREATE TABLE recorded_answers (
    transaction_id     TEXT PRIMARY KEY,
    mti                INTEGER NOT NULL CHECK (mti BETWEEN 0 AND 9999),
    action_code        TEXT NOT NULL CHECK (action_code GLOB '[0-9][0-9][0-9][0-9]'),
    approval_code      TEXT CHECK (length(approval_code) = 6),
    available          INTEGER,
    available_currency INTEGER CHECK (available_currency BETWEEN 0 AND 999),
    hold_id            INTEGER,
    created_at         INTEGER NOT NULL,
    CONSTRAINT recorded_answers_available CHECK ((available IS NULL) = (available_currency IS NULL))
) STRICT, WITHOUT ROWID;
CREATE INDEX recorded_answers_created_at ON recorded_answers (created_at);
