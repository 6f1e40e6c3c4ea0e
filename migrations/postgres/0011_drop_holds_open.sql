-- `holds_open` (0001) indexed the open holds for start-up, but start-up loads the holds that are
-- open *or* recent (`WHERE status = 'open' OR created_at >= $1`), and an OR whose other side has no
-- index is a scan of the table whichever side has one: no query used it (`pg_stat_user_indexes`
-- counted 0 scans after a benchmark). It cost every authorization a third index entry on its hold,
-- and it made every completion, reversal and expiry of a hold change an indexed column (`status`,
-- in the index's predicate), so those updates could never be HOT and wrote a new entry into each of
-- the hold's indexes.
DROP INDEX holds_open;
