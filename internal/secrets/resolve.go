package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/internal/store"
)

// ErrNotSet: a secret is neither in the environment nor in the store.
var ErrNotSet = errors.New("not set in the environment nor in the secret store")

// Resolver is the one place where the gateway turns a secret's name into
// its value. A nil Resolver reads only the environment (offline uses:
// validate, policy test).
type Resolver struct {
	store store.Store
	keys  *Keyring
}

// NewResolver returns a resolver of the environment, then st opened with
// keys (may be nil: a stored secret is then an error, not a silent miss).
func NewResolver(st store.Store, keys *Keyring) *Resolver {
	return &Resolver{store: st, keys: keys}
}

// Lookup returns the value of the secret name: the environment variable
// when it is set and not empty, else the stored secret, decrypted. It is
// ErrNotSet when neither holds it.
func (r *Resolver) Lookup(ctx context.Context, name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	if r == nil || r.store == nil {
		return "", fmt.Errorf("%s: %w", name, ErrNotSet)
	}
	rec, err := r.store.Secret(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%s: %w", name, ErrNotSet)
	}
	if err != nil {
		return "", err
	}
	if r.keys == nil {
		return "", fmt.Errorf("%s is in the secret store, but %w", name, ErrNoMasterKey)
	}
	v, err := r.keys.Open(rec)
	if err != nil {
		return "", err
	}
	return string(v), nil
}
