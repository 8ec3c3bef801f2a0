// Package blocklist is the gateway's incident-response list as the request
// path reads it: the active blocks on client addresses (single or CIDR),
// consumers and API keys, in an immutable Set behind an atomic pointer.
//
// Blocks are node state that outlives policy snapshots, like API keys: the
// node rebuilds the Set whenever the store's blocks change and swaps it in,
// and a request reads whichever Set is current without a lock. Every check
// compares the block's expiry with the request's time, so a block stops
// applying the moment it expires, before the node next hears from the
// store.
package blocklist

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Entry is one active block.
type Entry struct {
	ID        string
	Kind      string // store.BlockIP, store.BlockConsumer or store.BlockKey
	Value     string // an address, a CIDR, a consumer name, a key id
	ExpiresAt time.Time
}

// Set is an immutable collection of blocks, indexed for lookup. The zero
// value and nil block nothing.
type Set struct {
	// prefixes holds the address blocks by prefix length: a lookup masks
	// the address once per length in use, so its cost follows the number
	// of distinct lengths (a handful), not of blocked networks.
	prefixes  []prefixLen
	consumers map[string]time.Time
	keys      map[string]time.Time
	size      int
}

// prefixLen is the blocks on networks of one family and length; the value
// is the latest expiry among the blocks on that network.
type prefixLen struct {
	bits int
	is4  bool
	nets map[netip.Prefix]time.Time
}

// New indexes entries. Entries expired at now, and IP entries whose value
// does not parse, are left out; of several blocks on one subject the one
// that expires last speaks for all (one expiring does not lift the other).
func New(entries []Entry, now time.Time) *Set {
	s := &Set{}
	for _, e := range entries {
		if !now.Before(e.ExpiresAt) {
			continue
		}
		switch e.Kind {
		case store.BlockIP:
			p, ok := parsePrefix(e.Value)
			if !ok {
				continue
			}
			s.addPrefix(p, e.ExpiresAt)
		case store.BlockConsumer:
			s.consumers = addLatest(s.consumers, e.Value, e.ExpiresAt)
		case store.BlockKey:
			s.keys = addLatest(s.keys, e.Value, e.ExpiresAt)
		default:
			continue
		}
		s.size++
	}
	// Longer prefixes first: the most specific block is found first, which
	// changes nothing but the order of a refusal's lookups.
	slices.SortFunc(s.prefixes, func(a, b prefixLen) int { return b.bits - a.bits })
	return s
}

// parsePrefix reads an address (as a full-length prefix) or a CIDR, in the
// unmapped form the request path compares against.
func parsePrefix(v string) (netip.Prefix, bool) {
	if a, err := netip.ParseAddr(v); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

func (s *Set) addPrefix(p netip.Prefix, expires time.Time) {
	is4 := p.Addr().Is4()
	for i := range s.prefixes {
		if l := &s.prefixes[i]; l.bits == p.Bits() && l.is4 == is4 {
			l.nets = addLatest(l.nets, p, expires)
			return
		}
	}
	s.prefixes = append(s.prefixes, prefixLen{bits: p.Bits(), is4: is4, nets: map[netip.Prefix]time.Time{p: expires}})
}

func addLatest[K comparable](m map[K]time.Time, k K, expires time.Time) map[K]time.Time {
	if m == nil {
		m = map[K]time.Time{}
	}
	if old, ok := m[k]; !ok || expires.After(old) {
		m[k] = expires
	}
	return m
}

// Len is the number of blocks in s, for logs and metrics.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.size
}

// HasIPs reports whether s blocks any address, so that a caller can skip
// parsing the client's address and reading the clock when it does not.
func (s *Set) HasIPs() bool { return s != nil && len(s.prefixes) > 0 }

// HasIdentities reports whether s blocks any consumer or key.
func (s *Set) HasIdentities() bool { return s != nil && (len(s.consumers) > 0 || len(s.keys) > 0) }

// BlockedIP reports whether clientIP is blocked at now, and the network that
// blocks it. An address that does not parse is not blocked here (the
// gateway's own checks refuse it). It does not allocate.
func (s *Set) BlockedIP(clientIP string, now time.Time) (netip.Prefix, bool) {
	if !s.HasIPs() {
		return netip.Prefix{}, false
	}
	a, err := netip.ParseAddr(clientIP)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.WithZone("").Unmap()
	is4 := a.Is4()
	for _, l := range s.prefixes {
		if l.is4 != is4 {
			continue
		}
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if exp, ok := l.nets[p]; ok && now.Before(exp) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// BlockedConsumer reports whether the consumer of that name is blocked at
// now.
func (s *Set) BlockedConsumer(name string, now time.Time) bool {
	return s != nil && name != "" && active(s.consumers, name, now)
}

// BlockedKey reports whether the API key of that id is blocked at now.
func (s *Set) BlockedKey(id string, now time.Time) bool {
	return s != nil && id != "" && active(s.keys, id, now)
}

func active(m map[string]time.Time, k string, now time.Time) bool {
	exp, ok := m[k]
	return ok && now.Before(exp)
}

// Holder holds the current Set. The zero value holds none (blocks
// nothing); it is safe for concurrent use.
type Holder struct{ p atomic.Pointer[Set] }

// Load returns the current Set (nil when none was stored; a nil Set blocks
// nothing).
func (h *Holder) Load() *Set {
	if h == nil {
		return nil
	}
	return h.p.Load()
}

// Store makes s the current Set.
func (h *Holder) Store(s *Set) { h.p.Store(s) }
