-- Fees and currency conversion (SQLite; same logical schema as migrations/postgres/0006_fees.sql). Amounts are INTEGER minor units; decimals (fixed fees,
-- percentages, rates) are exact decimal strings, parsed by rust_decimal.

-- A program's fee schedule, versioned: a change is a new version applying from effective_from;
-- earlier versions stay (history). schedule: the JSON of fees::FeeSchedule.
CREATE TABLE fee_schedules (
    program_id     TEXT NOT NULL REFERENCES programs (id),
    version        INTEGER NOT NULL CHECK (version > 0),
    effective_from INTEGER NOT NULL,
    schedule       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    PRIMARY KEY (program_id, version)
);

-- The operator's rate table: one unit of from_currency is worth rate units of to_currency,
-- from valid_from to valid_to (open ended when NULL).
CREATE TABLE fx_rates (
    id            TEXT PRIMARY KEY,
    from_currency TEXT NOT NULL CHECK (from_currency GLOB '[A-Z][A-Z][A-Z]'),
    to_currency   TEXT NOT NULL CHECK (to_currency GLOB '[A-Z][A-Z][A-Z]'),
    rate          TEXT NOT NULL,
    valid_from    INTEGER NOT NULL,
    valid_to      INTEGER,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);

-- Every fee's ledger entry: amount moved between balance_id and revenue_balance_id (negative: a
-- refund), waived (forgiven by a waiver) and unpaid (the balance was short). Written on the hot path,
-- so no foreign keys (as transfers).
CREATE TABLE fee_entries (
    id                 TEXT PRIMARY KEY,
    fee_type           TEXT NOT NULL CHECK (fee_type IN ('account_creation', 'card_creation', 'periodic', 'pos',
                                                         'ecommerce', 'atm', 'money_transfer', 'currency_conversion')),
    program_id         TEXT NOT NULL,
    partner_id         TEXT NOT NULL,
    balance_id         INTEGER NOT NULL,
    revenue_balance_id INTEGER NOT NULL,
    card_id            INTEGER,
    hold_id            INTEGER,
    transaction_id     TEXT,
    period_key         TEXT,
    currency           TEXT NOT NULL CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    amount             INTEGER NOT NULL,
    waived             INTEGER NOT NULL CHECK (waived >= 0),
    unpaid             INTEGER NOT NULL CHECK (unpaid >= 0),
    created_at         INTEGER NOT NULL,
    CONSTRAINT fee_entries_periodic CHECK ((fee_type = 'periodic') = (period_key IS NOT NULL AND card_id IS NOT NULL)),
    -- A card's period is charged once, whatever restarts, retries or instances try.
    CONSTRAINT fee_entries_once_per_period UNIQUE (card_id, period_key)
);
CREATE INDEX fee_entries_program_time ON fee_entries (program_id, created_at);

-- The fees and currency conversion of an authorization hold (no row: no fee, no conversion).
CREATE TABLE hold_fees (
    hold_id           INTEGER PRIMARY KEY,
    fee_type          TEXT NOT NULL CHECK (fee_type IN ('pos', 'ecommerce', 'atm')),
    fee               INTEGER NOT NULL CHECK (fee >= 0),
    conversion_fee    INTEGER NOT NULL CHECK (conversion_fee >= 0),
    original_amount   INTEGER,
    original_currency INTEGER,
    rate              TEXT,
    CHECK ((original_amount IS NULL) = (rate IS NULL) AND (original_currency IS NULL) = (rate IS NULL))
);
