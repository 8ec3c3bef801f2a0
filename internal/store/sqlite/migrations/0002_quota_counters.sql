-- Quota counters saved from the nodes' memory (see store.QuotaCount). The
-- key is a BLOB because it may hold any byte; period_end is TEXT as in 0001.
CREATE TABLE quota_counters (
    key        BLOB    NOT NULL PRIMARY KEY,
    period_end TEXT    NOT NULL,
    count      INTEGER NOT NULL CHECK (count >= 0)
) STRICT, WITHOUT ROWID;

CREATE INDEX quota_counters_period_end ON quota_counters (period_end);
