package authn

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// maxVerified bounds the verified-token cache; when full it starts over.
const maxVerified = 10_000

// verified remembers tokens whose signature and claims were already checked,
// so that a client sending the same token on every request pays for the
// signature once (62 µs for RS256 here, against well under a microsecond for
// a hit). An entry counts only for the key set it was verified against — a
// refresh or refetch that changes the keys invalidates every entry — and only
// until the token's exp (plus the skew), which is checked on every hit.
type verified struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	keys     *keySet
	expires  time.Time
	identity policy.Identity
}

func (v *verified) get(h [sha256.Size]byte, keys *keySet, now time.Time) (policy.Identity, bool) {
	v.mu.RLock()
	e, ok := v.entries[h]
	v.mu.RUnlock()
	if !ok || e.keys != keys || !now.Before(e.expires) {
		return policy.Identity{}, false
	}
	return e.identity, true
}

func (v *verified) put(h [sha256.Size]byte, e verifiedToken) {
	v.mu.Lock()
	if v.entries == nil || len(v.entries) >= maxVerified {
		v.entries = make(map[[sha256.Size]byte]verifiedToken)
	}
	v.entries[h] = e
	v.mu.Unlock()
}
