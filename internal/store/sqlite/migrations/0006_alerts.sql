-- Alerts (see store.Alert), kept across restarts; a repeat within the
-- cooldown updates its row. Times are TEXT in UTC as in 0001.
CREATE TABLE alerts (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    first_time TEXT    NOT NULL,
    last_time  TEXT    NOT NULL
) STRICT;

CREATE INDEX alerts_last_time ON alerts (last_time);
