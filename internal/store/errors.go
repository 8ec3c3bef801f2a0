package store

import "errors"

// The errors of a Store, to test with errors.Is. Backends wrap them with
// detail (which version, which name).
var (
	// ErrNotFound: the version, consumer or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: AppendVersion's ExpectBase is not the newest version.
	ErrConflict = errors.New("conflict: the policy changed since the expected base version")
	// ErrExists: a consumer of that name, or a key with that ID or hash,
	// already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the input breaks a rule of the store (see AppendVersion,
	// CreateConsumer, CreateKey).
	ErrInvalid = errors.New("invalid")
)
