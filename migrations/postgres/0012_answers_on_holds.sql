-- The answer to an authorization that placed a hold is stored on the hold's row instead of in
-- `recorded_answers` (src/store/batch.rs, `answers_on_holds`): the hold already carries the
-- transaction id (unique), the hold id and the creation time, so an approval wrote a second heap
-- row and two more index entries (the primary key and `recorded_answers_created_at`) for five
-- small columns. Declines and the answers of completions, reversals and advices, which place no
-- hold, stay in `recorded_answers`. Start-up reads the answers on the holds it loads (the holds of
-- the retention window); the retention sweep leaves them with their holds.
-- Nullable and without a default, so adding them rewrites nothing.
ALTER TABLE holds
    ADD COLUMN answer_mti                INTEGER,
    ADD COLUMN answer_action_code        TEXT,
    ADD COLUMN answer_approval_code      TEXT,
    ADD COLUMN answer_available          BIGINT,
    ADD COLUMN answer_available_currency SMALLINT;
