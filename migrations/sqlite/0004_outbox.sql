-- Work that must survive a restart (SQLite). Same logical schema as migrations/postgres/0004_outbox.sql.
-- Both tables are written at the pace of people (a notification per threshold crossing, a card request
-- per API call), so they have FOREIGN KEYs.

-- The notification outbox: written in the same commit as the balance change that caused it, then
-- delivered as a webhook POST until the partner's server answers 2xx. `payload` is the exact body
-- sent on every attempt (its `id` is the receiver's idempotency key).
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY CHECK (id <> ''),
    partner_id      TEXT NOT NULL REFERENCES partners (id),
    balance_id      BIGINT NOT NULL REFERENCES balances (id),
    event           TEXT NOT NULL CHECK (event <> ''),
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    delivered_at    BIGINT
);
CREATE INDEX notifications_undelivered ON notifications (created_at) WHERE delivered_at IS NULL;

-- Asynchronous virtual card requests: a pending one is finished after a restart; the card and the
-- 'done' row commit together, so a request never makes two cards.
CREATE TABLE card_requests (
    id          TEXT PRIMARY KEY CHECK (id <> ''),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    balance_id  BIGINT NOT NULL REFERENCES balances (id),
    program_id  TEXT REFERENCES programs (id),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    card_id     BIGINT REFERENCES cards (id),
    -- When failed: {"code", "message"} as the synchronous route would have answered.
    error       TEXT,
    created_at  BIGINT NOT NULL,
    CONSTRAINT card_requests_outcome CHECK ((status = 'done') = (card_id IS NOT NULL)
        AND (status = 'failed') = (error IS NOT NULL))
);
