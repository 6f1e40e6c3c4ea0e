-- The answer to an authorization that placed a hold is stored on the hold's row instead of in
-- `recorded_answers`: one row and two index entries fewer per approval (the PostgreSQL migration of
-- the same number says more).
ALTER TABLE holds ADD COLUMN answer_mti INTEGER;
ALTER TABLE holds ADD COLUMN answer_action_code TEXT;
ALTER TABLE holds ADD COLUMN answer_approval_code TEXT;
ALTER TABLE holds ADD COLUMN answer_available INTEGER;
ALTER TABLE holds ADD COLUMN answer_available_currency INTEGER;
