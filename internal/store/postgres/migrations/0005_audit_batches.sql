-- The audit trail becomes a row per batch (see package auditbatch): a row
-- per call with its indexes cost the store a fifth of the gateway's CPU
-- under load. Records of the row-per-call layout (0004, never released) are
-- not carried over; the sequence continues past them, so no cursor is
-- reused.
CREATE TABLE audit_batches (
    first_seq BIGINT  NOT NULL PRIMARY KEY, -- the sequence number of the batch's first record
    count     INTEGER NOT NULL,             -- its records, at consecutive or (once trimmed) rising numbers
    min_time  BIGINT  NOT NULL,             -- the earliest and latest record time, Unix microseconds
    max_time  BIGINT  NOT NULL,
    consumers TEXT    NOT NULL,             -- the distinct consumers and routes, each as 0x1F name 0x1F
    routes    TEXT    NOT NULL,
    data      BYTEA   NOT NULL              -- the records, encoded (auditbatch.Encode)
);

-- Retention deletes by max_time and trims what straddles the cutoff by min_time.
CREATE INDEX audit_batches_max_time ON audit_batches (max_time);
CREATE INDEX audit_batches_min_time ON audit_batches (min_time);

-- The next sequence number: one row. Appending nodes take their range from
-- it under its row lock, so sequence order is commit order.
CREATE TABLE audit_sequence (next BIGINT NOT NULL);
INSERT INTO audit_sequence SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_records;

DROP TABLE audit_records;
