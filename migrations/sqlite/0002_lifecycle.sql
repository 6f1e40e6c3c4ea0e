-- The lifecycle API's records (SQLite). Same logical schema as migrations/postgres/0002_lifecycle.sql;
-- read that file for the conventions. These tables are written at the pace of people, so they have
-- FOREIGN KEYs. Ids of these records are UUID v7 text (made by the in-memory state, time-ordered).
-- Structured values that are read and written whole (a person's KYC data, findings, an address, a
-- document list) are JSON in TEXT columns, the same in both databases, so one reader fits both.

-- Contact details a partner gives at registration.
CREATE TABLE customer_profiles (
    customer_id INTEGER PRIMARY KEY REFERENCES customers (id),
    email       TEXT,
    phone       TEXT,
    first_name  TEXT,
    last_name   TEXT,
    updated_at  INTEGER NOT NULL
) STRICT;

-- App installations on devices; at most one active per (customer, device).
CREATE TABLE installations (
    id             TEXT PRIMARY KEY CHECK (id <> ''),
    customer_id    INTEGER NOT NULL REFERENCES customers (id),
    device_id      TEXT NOT NULL CHECK (device_id <> ''),
    active         INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    deactivated_at INTEGER,
    CONSTRAINT installations_deactivated CHECK (active IN (0, 1) AND active = (deactivated_at IS NULL))
) STRICT;
CREATE UNIQUE INDEX installations_active_device ON installations (customer_id, device_id) WHERE active = 1;

-- Administration panel users. The password is an Argon2id PHC string, never the password.
CREATE TABLE admin_users (
    id            TEXT PRIMARY KEY CHECK (id <> ''),
    username      TEXT NOT NULL UNIQUE CHECK (username <> ''),
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2%'),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'employee', 'operator')),
    -- NULL: platform-wide. Operators always are.
    partner_id    TEXT REFERENCES partners (id),
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    CONSTRAINT admin_users_operator CHECK (role <> 'operator' OR partner_id IS NULL)
) STRICT;

-- Sessions by the SHA-256 of their token (the token itself is never stored). The subject is a
-- customer's installation or an admin user: exactly the columns of subject_kind are set.
CREATE TABLE sessions (
    token_hash      BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    subject_kind    TEXT NOT NULL CHECK (subject_kind IN ('customer', 'admin')),
    customer_id     INTEGER REFERENCES customers (id),
    installation_id TEXT REFERENCES installations (id),
    admin_id        TEXT REFERENCES admin_users (id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked         INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    CONSTRAINT sessions_subject CHECK (
        (subject_kind = 'customer' AND customer_id IS NOT NULL AND installation_id IS NOT NULL AND admin_id IS NULL)
        OR (subject_kind = 'admin' AND admin_id IS NOT NULL AND customer_id IS NULL AND installation_id IS NULL))
) STRICT;
-- Housekeeping deletes sessions expired past the retention window.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- KYC submissions and their decisions (by the verifier, an administrator or the partner).
CREATE TABLE kyc_submissions (
    id          TEXT PRIMARY KEY CHECK (id <> ''),
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    source      TEXT NOT NULL CHECK (source IN ('mobile', 'server', 'partner')),
    -- The person's data (JSON); NULL when the partner set the flag.
    data        TEXT,
    status      TEXT NOT NULL CHECK (status IN ('in_review', 'verified', 'rejected')),
    -- JSON array of finding codes.
    findings    TEXT NOT NULL,
    decided_by  TEXT,
    reason      TEXT,
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER,
    CONSTRAINT kyc_submissions_decided CHECK ((status = 'in_review') = (decided_at IS NULL))
) STRICT;
CREATE INDEX kyc_submissions_customer_id ON kyc_submissions (customer_id);

-- A corporation's KYB details; address and documents are JSON.
CREATE TABLE corporation_details (
    corporation_id      INTEGER PRIMARY KEY REFERENCES corporations (id),
    registration_number TEXT NOT NULL,
    tax_id              TEXT,
    address             TEXT NOT NULL,
    documents           TEXT NOT NULL
) STRICT;

-- Every KYB status change: from (NULL for the submission), to, who, why, when.
CREATE TABLE kyb_transitions (
    id             TEXT PRIMARY KEY CHECK (id <> ''),
    corporation_id INTEGER NOT NULL REFERENCES corporations (id),
    from_status    TEXT CHECK (from_status IN ('submitted', 'approved', 'rejected', 'on_hold')),
    to_status      TEXT NOT NULL CHECK (to_status IN ('submitted', 'approved', 'rejected', 'on_hold')),
    actor          TEXT NOT NULL CHECK (actor <> ''),
    reason         TEXT,
    at             INTEGER NOT NULL
) STRICT;
CREATE INDEX kyb_transitions_corporation_id ON kyb_transitions (corporation_id);
