// Package requestid makes and checks X-Request-Id values. A client's id is kept
// when it is 1–128 characters of A-Za-z0-9._:- (CONTRACT §3); otherwise a new
// one is made from a random per-process prefix and a counter: unique and
// cheap, since ids are for correlation, not secrets.
package requestid

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// Header is the header that carries the id both ways.
const Header = "X-Request-Id"

// FromHeader returns the client's id when it sent exactly one valid one, else a new id.
func FromHeader(sent []string) string {
	if len(sent) == 1 && Valid(sent[0]) {
		return sent[0]
	}
	return New()
}

// Valid reports whether s may be kept as a request id.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

var (
	prefix  = randomPrefix()
	counter atomic.Uint64
)

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// New makes a fresh id: 12 hex digits of process prefix, a dash, 16 of counter.
func New() string {
	n := counter.Add(1)
	b := make([]byte, 0, 12+1+16)
	b = append(b, prefix...)
	b = append(b, '-')
	var tmp [16]byte
	for i := 15; i >= 0; i-- {
		tmp[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return string(append(b, tmp[:]...))
}
