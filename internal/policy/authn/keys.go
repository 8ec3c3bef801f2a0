package authn

import (
	"crypto/sha256"
	"slices"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// Key is what the gateway knows of one API key: never the key itself, only
// what its SHA-256 leads to.
type Key struct {
	ID        string
	Consumer  string
	Roles     []string
	ExpiresAt time.Time // zero: never
	Revoked   bool
}

// KeySet is an immutable map from a key's SHA-256 to the key.
type KeySet map[[sha256.Size]byte]Key

// Keys is the node-wide set of API keys kept in the store, and the roles of
// the store's consumers. Both are replaced whole when the store reports a
// change (on any node), and read lock-free on the request path.
type Keys struct {
	set   atomic.Pointer[KeySet]
	roles atomic.Pointer[map[string][]string]
}

// ReplaceRoles makes roles (consumer name → roles) the store's consumers.
func (k *Keys) ReplaceRoles(roles map[string][]string) { k.roles.Store(&roles) }

// Roles returns the roles of the store's consumer of that name.
func (k *Keys) Roles(consumer string) []string {
	if k == nil {
		return nil
	}
	if m := k.roles.Load(); m != nil {
		return (*m)[consumer]
	}
	return nil
}

// JoinRoles adds to id the roles of its consumer in the store, so that a
// token's consumer gets the roles given through the admin API too.
func (k *Keys) JoinRoles(id policy.Identity) policy.Identity {
	extra := k.Roles(id.Consumer)
	if id.Consumer == "" || len(extra) == 0 {
		return id
	}
	roles := slices.Clip(id.Roles)
	for _, r := range extra {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	id.Roles = roles
	return id
}

// Replace makes set the current keys.
func (k *Keys) Replace(set KeySet) { k.set.Store(&set) }

// Lookup finds a key by its hash.
func (k *Keys) Lookup(hash [sha256.Size]byte) (Key, bool) {
	set := k.set.Load()
	if set == nil {
		return Key{}, false
	}
	key, ok := (*set)[hash]
	return key, ok
}

// Len is how many keys are loaded.
func (k *Keys) Len() int {
	if set := k.set.Load(); set != nil {
		return len(*set)
	}
	return 0
}
