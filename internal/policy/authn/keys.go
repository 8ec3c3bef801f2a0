package authn

import (
	"crypto/sha256"
	"sync/atomic"
	"time"
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

// Keys is the node-wide set of API keys kept in the store. It is replaced
// whole when the store reports a change (a key created or revoked on any
// node), and read lock-free on the request path.
type Keys struct{ set atomic.Pointer[KeySet] }

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
