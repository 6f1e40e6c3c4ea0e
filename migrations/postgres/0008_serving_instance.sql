-- Fencing for "one switch per database". The instance lock (an advisory lock) keeps a second switch
-- from starting, but a switch killed with SIGKILL can still have a COMMIT under way in its server
-- session when its successor starts, and a database restart ends the lock's session while the switch
-- goes on. So each instance, once it holds the lock, raises `epoch` and keeps the new value; every
-- batch it commits checks the epoch under a share lock of this row (with its marker row in
-- committed_batches). The raise waits for the batches of earlier instances still committing, so the
-- successor loads after them; a batch of an earlier instance that comes later finds another epoch
-- and stores nothing.
CREATE TABLE serving_instance (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    epoch BIGINT NOT NULL
);
INSERT INTO serving_instance (singleton, epoch) VALUES (TRUE, 0);
