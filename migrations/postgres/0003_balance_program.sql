-- The card program a user or corporate balance works under (PostgreSQL): its funding model decides
-- how the balance is reloaded, and its cards are of that program. NULL for partner and system
-- balances, and for balances opened before programs were bound (bound then by their first card).
ALTER TABLE balances ADD COLUMN program_id TEXT REFERENCES programs (id);
