-- The policy history, consumers and API keys. Names compare bytewise
-- (COLLATE "C") so that every backend sorts them alike.

-- One row per policy version; append-only, the newest is the active one.
CREATE TABLE policy_versions (
    number      BIGINT      PRIMARY KEY CHECK (number > 0),
    hash        TEXT        NOT NULL,
    prev_hash   TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    author      TEXT        NOT NULL,
    source      TEXT        NOT NULL,
    weakening   BOOLEAN     NOT NULL,
    rollback    BOOLEAN     NOT NULL,
    rollback_of BIGINT      NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- The manifest files of each version.
CREATE TABLE policy_files (
    version BIGINT           NOT NULL REFERENCES policy_versions (number),
    name    TEXT COLLATE "C" NOT NULL,
    content TEXT             NOT NULL,
    PRIMARY KEY (version, name)
);

CREATE TABLE consumers (
    name       TEXT COLLATE "C" PRIMARY KEY,
    roles      TEXT[]           NOT NULL,
    created_at TIMESTAMPTZ      NOT NULL
);

-- API keys, as SHA-256 hashes only. change_seq is the key change sequence
-- value of the key's last change (creation or revocation).
CREATE TABLE api_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    consumer   TEXT COLLATE "C" NOT NULL REFERENCES consumers (name),
    name       TEXT             NOT NULL,
    hash       BYTEA            NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
    prefix     TEXT             NOT NULL,
    created_at TIMESTAMPTZ      NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    change_seq BIGINT           NOT NULL UNIQUE
);

CREATE INDEX api_keys_by_consumer ON api_keys (consumer, created_at);

-- The change sequences of the kinds that have no version number of their
-- own. A write bumps its kind's row in its transaction; the row lock it
-- holds until commit makes the values increase in commit order.
CREATE TABLE change_sequences (
    kind  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO change_sequences (kind, value) VALUES ('keys', 0), ('consumers', 0);
