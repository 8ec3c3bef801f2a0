// Package store is the gateway's durable state: the append-only, hash-chained
// history of policy versions, the consumers and their API keys (kept only as
// hashes), the incident-response blocks, the audit trail, and a feed of
// changes so that every node of a cluster follows the newest state.
//
// This package holds the Store interface, its types, its errors and the
// version hash. The backends live in subpackages — store/sqlite (embedded,
// one node) and store/postgres (shared by a cluster) — and pass one
// conformance suite, store/storetest. store/backend opens the backend a
// --store URL names.
package store

import (
	"context"
	"time"
)

// Store is the policy store. Every write is one transaction: it is either
// wholly visible or not at all, also after a crash. Implementations are safe
// for concurrent use.
type Store interface {
	// AppendVersion records a new policy version atomically. When
	// v.ExpectBase >= 0 and the newest version's number differs from it, it
	// returns ErrConflict and stores nothing. The new version's number is the
	// newest's plus one (the first is 1), its PrevHash the newest's Hash (""
	// for the first), its CreatedAt the current time (UTC, microseconds) and
	// its Hash VersionHash of it. Invalid input (no reason, an unknown source,
	// duplicate file names, …) is ErrInvalid.
	AppendVersion(ctx context.Context, v NewVersion) (Version, error)
	// ActiveVersion returns the newest version, which is the active one;
	// ErrNotFound when there is none yet.
	ActiveVersion(ctx context.Context) (Version, error)
	// Version returns version n with its files; ErrNotFound when there is
	// none.
	Version(ctx context.Context, n int64) (Version, error)
	// Versions returns at most limit versions (every one when limit <= 0),
	// newest first, starting below before (from the newest when before is 0).
	// They carry no Files, to keep a history listing cheap: Version(n)
	// returns one with its files.
	Versions(ctx context.Context, limit int, before int64) ([]Version, error)
	// VerifyChain recomputes every version's hash in order and checks each
	// link to the previous version; see ChainReport.
	VerifyChain(ctx context.Context) (ChainReport, error)

	// CreateConsumer stores a new consumer, stamping CreatedAt; ErrExists
	// when the name is taken.
	CreateConsumer(ctx context.Context, c Consumer) (Consumer, error)
	// Consumer returns the consumer of that name, or ErrNotFound.
	Consumer(ctx context.Context, name string) (Consumer, error)
	// Consumers returns every consumer, by name.
	Consumers(ctx context.Context) ([]Consumer, error)

	// CreateKey stores an API key (its hash, never the key), stamping
	// CreatedAt. ErrNotFound when its consumer does not exist, ErrExists
	// when its ID or its Hash is already stored.
	CreateKey(ctx context.Context, k Key) (Key, error)
	// KeyByHash returns the key with that SHA-256 hash, revoked or not, or
	// ErrNotFound.
	KeyByHash(ctx context.Context, hash []byte) (Key, error)
	// RevokeKey stamps the key's RevokedAt. Revoking a revoked key changes
	// nothing and is not an error; an unknown id is ErrNotFound.
	RevokeKey(ctx context.Context, id string) error
	// Keys returns a consumer's keys, oldest first, revoked ones included;
	// ErrNotFound when the consumer does not exist.
	Keys(ctx context.Context, consumer string) ([]Key, error)
	// KeysChangedSince returns every key created or revoked after cursor, in
	// the order of those changes, and the cursor to pass next time (cursor
	// itself when nothing changed). Start with 0. Cursors come from one
	// monotonic sequence that increases in commit order, so a node that
	// follows them never misses a change.
	KeysChangedSince(ctx context.Context, cursor int64) (keys []Key, next int64, err error)

	// CreateBlock stores an incident-response block, its IP value
	// normalized (NormalizeBlockIP), stamping CreatedAt. Invalid input (see
	// Block.Normalized: no reason, an unknown kind, an address that does not
	// parse, ExpiresAt not after now) is ErrInvalid; a taken ID is
	// ErrExists.
	CreateBlock(ctx context.Context, b Block) (Block, error)
	// RemoveBlock stamps the block's RemovedAt and returns it as stored;
	// removed reports whether this call removed it, so that a caller records
	// a removal once. Removing a removed block changes nothing and is not an
	// error (removed is false); an unknown id is ErrNotFound.
	RemoveBlock(ctx context.Context, id string) (b Block, removed bool, err error)
	// Blocks returns the blocks active at now (not removed, not expired),
	// oldest first.
	Blocks(ctx context.Context, now time.Time) ([]Block, error)
	// BlockCursor returns the cursor of the newest block change: a node
	// that loads Blocks after reading it and then follows
	// BlocksChangedSince from it misses no change.
	BlockCursor(ctx context.Context) (int64, error)
	// BlocksChangedSince returns every block created or removed after
	// cursor, in the order of those changes, and the next cursor, exactly as
	// KeysChangedSince does for keys.
	BlocksChangedSince(ctx context.Context, cursor int64) (blocks []Block, next int64, err error)

	// AddQuotaCounts adds each count to its stored counter (creating it),
	// all in one transaction, and deletes the counters whose End is before
	// now. Counts from several nodes add up.
	AddQuotaCounts(ctx context.Context, counts []QuotaCount, now time.Time) error
	// QuotaCounts returns every stored counter whose End is after now.
	QuotaCounts(ctx context.Context, now time.Time) ([]QuotaCount, error)

	// AppendAudit appends records to the audit trail in one transaction,
	// giving each the next Seq in order. It is the audit writer's group
	// commit: a batch is durable, or absent, as a whole.
	AppendAudit(ctx context.Context, records []AuditRecord) error
	// Audit returns a page of the audit records q selects, newest (highest
	// Seq) first, and the cursor of the next page ("" when none remain). A
	// malformed cursor is ErrInvalid.
	Audit(ctx context.Context, q AuditQuery) (records []AuditRecord, next string, err error)
	// PruneAudit deletes the audit records older than before and returns
	// how many it deleted.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
	// SetAuditSealer makes the audit records appended from now on encrypted
	// with s, and lets sealed ones be read; call it before the store is
	// used. Without it, records are stored in clear and sealed ones cannot
	// be read.
	SetAuditSealer(s AuditSealer)
	// RewrapAudit re-seals the data keys of every sealed audit batch with
	// s's current master key (rotation), in one transaction, and returns
	// how many batches it changed.
	RewrapAudit(ctx context.Context, s AuditSealer) (int, error)

	// SaveAlert stores an alert, replacing the one with its ID (a repeat
	// updates Time, Detail and Count).
	SaveAlert(ctx context.Context, a Alert) error
	// Alerts returns the newest alerts (by Time), at most limit (at most
	// MaxAlerts), newest first.
	Alerts(ctx context.Context, limit int) ([]Alert, error)
	// PruneAlerts deletes the alerts last seen before before and returns
	// how many it deleted.
	PruneAlerts(ctx context.Context, before time.Time) (int64, error)

	// PutSecret stores a sealed secret (see SecretRecord.Validate),
	// replacing the one of that name, and stamps UpdatedAt. Secrets publish
	// no Change: they are read when a policy is compiled.
	PutSecret(ctx context.Context, s SecretRecord) (SecretRecord, error)
	// Secret returns the sealed secret of that name, or ErrNotFound.
	Secret(ctx context.Context, name string) (SecretRecord, error)
	// Secrets returns every sealed secret, by name.
	Secrets(ctx context.Context) ([]SecretRecord, error)
	// DeleteSecret deletes the secret of that name; ErrNotFound when there
	// is none.
	DeleteSecret(ctx context.Context, name string) error
	// RewrapSecrets is master key rotation: in one transaction that keeps
	// other writers of secrets out, it calls rewrap on every stored secret
	// and stores the KeyID and WrappedKey it returns (the value's own
	// ciphertext never changes). An error from rewrap rolls everything
	// back. It returns how many secrets changed key.
	RewrapSecrets(ctx context.Context, rewrap func(SecretRecord) (SecretRecord, error)) (int, error)

	// Watch returns a channel of changes: this store's own writes and, with
	// a shared backend, those of other nodes. Changes of one kind may be
	// coalesced (a slow reader sees at least the newest version of every
	// kind that changed), so a Change is a cue to re-read, not a log. Call
	// Watch before reading the state it tracks, so nothing falls in
	// between. The channel is closed when ctx ends or the store is closed.
	Watch(ctx context.Context) (<-chan Change, error)

	// Close releases the store. Calling it again does nothing.
	Close() error
}

// Change says that the state of one kind changed.
type Change struct {
	Kind    string // KindPolicy, KindKeys, KindConsumers or KindBlocks
	Version int64  // the newest policy version, or the key, consumer or block change sequence
}

// The kinds of Change. They are also the kind values of PostgreSQL's
// notification payload.
const (
	KindPolicy    = "policy"
	KindKeys      = "keys"
	KindConsumers = "consumers"
	KindBlocks    = "blocks"
	// KindSecrets: a stored secret was set or deleted; nodes compile their
	// policy again, so that the names it resolves take the new value.
	KindSecrets = "secrets"
)

// QuotaCount is a quota's counter as saved from a node's memory, so that a
// restart does not reset it. Key is opaque to the store (it names the route,
// the caller and the period, and may hold any byte); End is when the
// counter's period ends and the counter may be forgotten.
type QuotaCount struct {
	Key   string
	End   time.Time
	Count int64
}
