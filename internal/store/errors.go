package store

import "errors"

// The errors of a Store, to test with errors.Is. Backends wrap them with
// detail (which version, which name).
var (
	// ErrNotFound: the version, consumer, key or block does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: AppendVersion's ExpectBase is not the newest version.
	ErrConflict = errors.New("conflict: the policy changed since the expected base version")
	// ErrExists: a consumer of that name, a key with that ID or hash, or a
	// block with that ID already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the input breaks a rule of the store (see AppendVersion,
	// CreateConsumer, CreateKey, CreateBlock).
	ErrInvalid = errors.New("invalid")
)
