-- The card program a user or corporate balance works under (SQLite). Same logical schema as
-- migrations/postgres/0003_balance_program.sql; read that file for the meaning.
ALTER TABLE balances ADD COLUMN program_id TEXT REFERENCES programs (id);
