-- The policy history, consumers and API keys. Times are TEXT in UTC,
-- RFC 3339 with six fractional digits ('2026-01-02T03:04:05.000006Z'), so
-- they sort as text and round-trip to the microsecond.

-- One row per policy version; append-only, the newest is the active one.
CREATE TABLE policy_versions (
    number      INTEGER PRIMARY KEY CHECK (number > 0),
    hash        TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    weakening   INTEGER NOT NULL CHECK (weakening IN (0, 1)),
    rollback    INTEGER NOT NULL CHECK (rollback IN (0, 1)),
    rollback_of INTEGER NOT NULL,
    created_at  TEXT    NOT NULL
) STRICT;

-- The manifest files of each version.
CREATE TABLE policy_files (
    version INTEGER NOT NULL REFERENCES policy_versions (number),
    name    TEXT    NOT NULL,
    content TEXT    NOT NULL,
    PRIMARY KEY (version, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE consumers (
    name       TEXT NOT NULL PRIMARY KEY,
    roles      TEXT NOT NULL, -- a JSON array of strings
    created_at TEXT NOT NULL
) STRICT;

-- API keys, as SHA-256 hashes only. change_seq is the key change sequence
-- value of the key's last change (creation or revocation).
CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    consumer   TEXT    NOT NULL REFERENCES consumers (name),
    name       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    prefix     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    change_seq INTEGER NOT NULL UNIQUE
) STRICT;

CREATE INDEX api_keys_by_consumer ON api_keys (consumer, created_at);

-- The change sequences of the kinds that have no version number of their
-- own; each write bumps its kind's value in the write's transaction.
CREATE TABLE change_sequences (
    kind  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

INSERT INTO change_sequences (kind, value) VALUES ('keys', 0), ('consumers', 0);
