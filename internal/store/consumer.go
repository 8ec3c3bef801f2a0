package store

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// Consumer is a caller of the gateway that API keys belong to.
type Consumer struct {
	Name      string
	Roles     []string // nil when none
	CreatedAt time.Time
}

// Key is an API key as stored: its SHA-256 hash, never the key itself.
type Key struct {
	ID        string
	Consumer  string // the owning consumer's name
	Name      string // an optional label
	Hash      []byte // SHA-256 of the key, 32 bytes
	Prefix    string // the key's first characters, for display
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: never expires
	RevokedAt *time.Time // nil: not revoked
}

// Validate reports whether c may be created, as an ErrInvalid error.
func (c Consumer) Validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("%w consumer: a name is required", ErrInvalid)
	}
	for _, r := range c.Roles {
		if strings.TrimSpace(r) == "" {
			return fmt.Errorf("%w consumer %q: an empty role", ErrInvalid, c.Name)
		}
	}
	return nil
}

// Validate reports whether k may be created, as an ErrInvalid error.
func (k Key) Validate() error {
	var problems []string
	if strings.TrimSpace(k.ID) == "" {
		problems = append(problems, "an id is required")
	}
	if strings.TrimSpace(k.Consumer) == "" {
		problems = append(problems, "a consumer is required")
	}
	if len(k.Hash) != sha256.Size {
		problems = append(problems, fmt.Sprintf("the hash must be a %d-byte SHA-256, not %d bytes", sha256.Size, len(k.Hash)))
	}
	if k.RevokedAt != nil {
		problems = append(problems, "a new key cannot be revoked already (RevokeKey revokes)")
	}
	if problems != nil {
		return fmt.Errorf("%w key %q: %s", ErrInvalid, k.ID, strings.Join(problems, "; "))
	}
	return nil
}
