-- Secrets (see store.SecretRecord) shared by every node, sealed by
-- internal/secrets: the value is encrypted with a data key, the data key
-- with a master key that is never stored. key_id names that master key for
-- rotation.
CREATE TABLE secrets (
    name        TEXT COLLATE "C" PRIMARY KEY,
    key_id      TEXT        NOT NULL CHECK (key_id <> ''),
    wrapped_key BYTEA       NOT NULL,
    nonce       BYTEA       NOT NULL,
    ciphertext  BYTEA       NOT NULL,
    author      TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
