-- Incident-response blocks (see store.Block). Times are TEXT in UTC as in
-- 0001. A block is never deleted: removal stamps removed_at, so the list
-- keeps who blocked what, when and why. change_seq is the block change
-- sequence value of the block's last change (creation or removal).
CREATE TABLE blocks (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('ip', 'consumer', 'key')),
    value      TEXT    NOT NULL CHECK (value <> ''),
    reason     TEXT    NOT NULL CHECK (reason <> ''),
    author     TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL CHECK (expires_at > created_at),
    removed_at TEXT,
    change_seq INTEGER NOT NULL UNIQUE
) STRICT;

CREATE INDEX blocks_active ON blocks (expires_at) WHERE removed_at IS NULL;

INSERT INTO change_sequences (kind, value) VALUES ('blocks', 0);
