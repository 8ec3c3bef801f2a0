-- The audit trail (see store.AuditRecord): one row per completed call,
-- appended in batches by the audit writers of every node and deleted only
-- by retention. seq orders the trail and is the paging cursor.
CREATE TABLE audit_records (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time           TIMESTAMPTZ      NOT NULL,
    request_id     TEXT             NOT NULL,
    consumer       TEXT COLLATE "C" NOT NULL,
    client_ip      TEXT             NOT NULL,
    method         TEXT             NOT NULL,
    path           TEXT             NOT NULL,
    route          TEXT COLLATE "C" NOT NULL,
    status         INTEGER          NOT NULL,
    decision       TEXT             NOT NULL,
    reason         TEXT             NOT NULL,
    policy_version BIGINT           NOT NULL,
    latency_ms     DOUBLE PRECISION NOT NULL,
    listener       TEXT             NOT NULL,
    key_id         TEXT             NOT NULL
);

CREATE INDEX audit_records_time ON audit_records (time);
CREATE INDEX audit_records_consumer ON audit_records (consumer, seq);
CREATE INDEX audit_records_route ON audit_records (route, seq);
