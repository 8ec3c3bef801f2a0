-- Secrets (see store.SecretRecord), sealed by internal/secrets: the value
-- is encrypted with a data key, the data key with a master key that is
-- never stored. key_id names that master key for rotation. Times are TEXT
-- in UTC as in 0001.
CREATE TABLE secrets (
    name        TEXT NOT NULL PRIMARY KEY,
    key_id      TEXT NOT NULL CHECK (key_id <> ''),
    wrapped_key BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    author      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
