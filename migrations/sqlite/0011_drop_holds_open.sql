-- `holds_open` (0001) indexed the open holds for start-up, but start-up loads the holds that are
-- open *or* recent (`WHERE status = 'open' OR created_at >= ?`), and SQLite answers an OR whose
-- other side has no index with a scan of the table (`EXPLAIN QUERY PLAN`: `SCAN holds`): no query
-- used it. It cost every authorization a second index entry on its hold, and every completion,
-- reversal and expiry an index update. PostgreSQL's store drops it in its own 0011.
DROP INDEX holds_open;
