-- A batch of the hot path (new holds, hold updates, transfers, recorded answers, balance deltas and
-- its marker; src/store/postgres.rs, `write_money_rows`) is one statement committed on its own, with
-- no BEGIN and COMMIT round trips. Its checks can then no longer run in the client before a COMMIT:
-- they run here, at the end of that statement, and refuse it by raising, which aborts the statement
-- and everything it wrote. Each refusal has its own SQLSTATE (class AN, for Antaca), with the table in
-- the error's TABLE field and the counts in DETAIL, which the store reads back into its typed errors
-- (src/store/error.rs). No row value goes into the message.
CREATE FUNCTION antaca_check_batch(
    hold_updates_expected BIGINT,
    hold_updates_found BIGINT,
    balance_deltas_expected BIGINT,
    balance_deltas_found BIGINT,
    missing_cards BIGINT,
    missing_balances BIGINT,
    missing_holds BIGINT,
    epoch BIGINT,
    marked BIGINT
) RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- AN001: an update named rows that do not exist. DETAIL: 'expected found'.
    IF hold_updates_found <> hold_updates_expected THEN
        RAISE EXCEPTION USING ERRCODE = 'AN001', TABLE = 'holds', MESSAGE = 'rows to update not found',
            DETAIL = hold_updates_expected || ' ' || hold_updates_found;
    END IF;
    IF balance_deltas_found <> balance_deltas_expected THEN
        RAISE EXCEPTION USING ERRCODE = 'AN001', TABLE = 'balances', MESSAGE = 'rows to update not found',
            DETAIL = balance_deltas_expected || ' ' || balance_deltas_found;
    END IF;
    -- AN002: new rows refer to rows that do not exist. DETAIL: how many.
    IF missing_cards <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'AN002', TABLE = 'cards', MESSAGE = 'referenced rows missing',
            DETAIL = missing_cards::TEXT;
    END IF;
    IF missing_balances <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'AN002', TABLE = 'balances', MESSAGE = 'referenced rows missing',
            DETAIL = missing_balances::TEXT;
    END IF;
    IF missing_holds <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'AN002', TABLE = 'holds', MESSAGE = 'referenced rows missing',
            DETAIL = missing_holds::TEXT;
    END IF;
    -- AN003: the batch's epoch no longer serves the database (migration 0008).
    IF epoch IS NOT NULL AND marked = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'AN003', TABLE = 'serving_instance',
            MESSAGE = 'another instance serves the database';
    END IF;
    RETURN 0;
END
$$;
