package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Block is an incident-response block: requests from an IP address or
// network, by a consumer, or with an API key are refused until ExpiresAt.
// Every block expires, so that one forgotten in the heat of an incident
// does not lock a caller out for good.
type Block struct {
	ID     string
	Kind   string // BlockIP, BlockConsumer or BlockKey
	Value  string // an address or CIDR (normalized, see NormalizeBlockIP), a consumer name, a key id
	Reason string // why; required
	Author string // who
	// CreatedAt is stamped by the store; ExpiresAt must be after it.
	CreatedAt time.Time
	ExpiresAt time.Time
	RemovedAt *time.Time // nil: not removed (RemoveBlock removes)
}

// NewBlockID returns a new random block id ("blk_" and 16 hex digits).
func NewBlockID() string {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return "blk_" + hex.EncodeToString(id[:])
}

// The kinds of Block.
const (
	BlockIP       = "ip"
	BlockConsumer = "consumer"
	BlockKey      = "key"
)

// Active reports whether b applies at now: not removed and not expired.
func (b Block) Active(now time.Time) bool {
	return b.RemovedAt == nil && now.Before(b.ExpiresAt)
}

// NormalizeBlockIP returns the one spelling of an address or network that
// blocks store, so that the same subject always looks the same in a list:
// an address in its canonical form (an IPv4-mapped IPv6 address as IPv4), a
// network masked to its prefix ("10.1.2.3/8" is "10.0.0.0/8"), and a
// network of one address as that address. Zones are refused: a block is
// about a client, not an interface.
func NormalizeBlockIP(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("%w block: %q is not an IP address or CIDR", ErrInvalid, s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.IsSingleIP() {
			return p.Addr().String(), nil
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("%w block: %q is not an IP address or CIDR", ErrInvalid, s)
	}
	return a.Unmap().String(), nil
}

// Normalized returns b ready to be stored — its IP value normalized — or an
// ErrInvalid error naming every rule it breaks. now is the creation time
// that ExpiresAt must follow.
func (b Block) Normalized(now time.Time) (Block, error) {
	var problems []string
	if strings.TrimSpace(b.ID) == "" {
		problems = append(problems, "an id is required")
	}
	b.Value = strings.TrimSpace(b.Value)
	switch b.Kind {
	case BlockIP:
		v, err := NormalizeBlockIP(b.Value)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q is not an IP address or CIDR", b.Value))
		}
		b.Value = v
	case BlockConsumer, BlockKey:
		if b.Value == "" {
			problems = append(problems, "a "+b.Kind+" is required")
		}
	default:
		problems = append(problems, fmt.Sprintf("kind %q is not ip, consumer or key", b.Kind))
	}
	if strings.TrimSpace(b.Reason) == "" {
		problems = append(problems, "a reason is required")
	}
	if !b.ExpiresAt.After(now) {
		problems = append(problems, "it must expire after it is created (ttl > 0)")
	}
	if b.RemovedAt != nil {
		problems = append(problems, "a new block cannot be removed already (RemoveBlock removes)")
	}
	if problems != nil {
		return Block{}, fmt.Errorf("%w block %q: %s", ErrInvalid, b.ID, strings.Join(problems, "; "))
	}
	return b, nil
}
