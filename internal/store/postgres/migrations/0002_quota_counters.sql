-- Quota counters saved from the nodes' memory (see store.QuotaCount). The
-- key is BYTEA because it may hold any byte, NUL included.
CREATE TABLE quota_counters (
    key        BYTEA       NOT NULL PRIMARY KEY,
    period_end TIMESTAMPTZ NOT NULL,
    count      BIGINT      NOT NULL CHECK (count >= 0)
);

CREATE INDEX quota_counters_period_end ON quota_counters (period_end);
