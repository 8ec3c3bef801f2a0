-- The audit trail (see store.AuditRecord): one row per completed call,
-- appended in batches by the audit writer and deleted only by retention.
-- seq orders the trail and is the paging cursor; AUTOINCREMENT keeps it
-- from reusing the numbers of pruned rows. time is TEXT in UTC as in 0001.
CREATE TABLE audit_records (
    seq            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    time           TEXT    NOT NULL,
    request_id     TEXT    NOT NULL,
    consumer       TEXT    NOT NULL,
    client_ip      TEXT    NOT NULL,
    method         TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    route          TEXT    NOT NULL,
    status         INTEGER NOT NULL,
    decision       TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    policy_version INTEGER NOT NULL,
    latency_ms     REAL    NOT NULL,
    listener       TEXT    NOT NULL,
    key_id         TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_records_time ON audit_records (time);
CREATE INDEX audit_records_consumer ON audit_records (consumer, seq);
CREATE INDEX audit_records_route ON audit_records (route, seq);
