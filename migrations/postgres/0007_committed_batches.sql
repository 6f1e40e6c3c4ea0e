-- One row per batch the journal commits, written in the batch's own transaction: when the connection
-- is lost during COMMIT, the switch asks whether the batch's row exists before answering (a batch
-- stored but reported failed would be an approval the network was told was declined). Rows older than
-- the duplicate-retention window are deleted with the old recorded answers.
CREATE TABLE committed_batches (
    id BIGINT PRIMARY KEY
);
