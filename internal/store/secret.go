package store

import (
	"fmt"
	"time"
)

// SecretRecord is a secret as the store keeps it: sealed by
// internal/secrets with envelope encryption, never its value in clear. The
// value is sealed with a data key of its own, and the data key with a
// master key the store never sees, so that a copy of the database (a
// backup, a replica, a dump) discloses nothing.
type SecretRecord struct {
	Name       string // an environment-variable-like name; what manifests refer to
	KeyID      string // which master key sealed WrappedKey, so that rotation knows
	WrappedKey []byte // the data key, sealed with the master key
	Nonce      []byte // the nonce Ciphertext was sealed with
	Ciphertext []byte // the value, sealed with the data key
	Author     string // who set it
	UpdatedAt  time.Time
}

// Validate reports a record with a missing field as ErrInvalid: a store
// must never hold a secret it could not open.
func (r SecretRecord) Validate() error {
	if r.Name == "" || r.KeyID == "" || len(r.WrappedKey) == 0 || len(r.Nonce) == 0 || len(r.Ciphertext) == 0 {
		return fmt.Errorf("secret %q: name, key id, wrapped key, nonce and ciphertext are required: %w", r.Name, ErrInvalid)
	}
	return nil
}
