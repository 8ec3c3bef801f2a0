-- Alerts (see store.Alert) of every node, kept across restarts; a repeat
-- within the cooldown updates its row.
CREATE TABLE alerts (
    id         TEXT        NOT NULL PRIMARY KEY,
    kind       TEXT        NOT NULL,
    severity   TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    detail     TEXT        NOT NULL,
    count      INTEGER     NOT NULL,
    first_time TIMESTAMPTZ NOT NULL,
    last_time  TIMESTAMPTZ NOT NULL
);

CREATE INDEX alerts_last_time ON alerts (last_time);
