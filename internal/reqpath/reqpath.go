// Package reqpath normalizes request paths before routing, so that a path can
// never reach a route by a spelling the route's owner did not mean:
// `/public/../admin`, `/public/%2e%2e/admin` and `//admin` all route as `/admin`,
// and the upstream receives exactly the path the router matched.
package reqpath

import (
	"errors"
	"strings"

	"github.com/portcullis/portcullis/internal/httpsyntax"
)

// Errors for paths that are refused rather than normalized (answered 400).
var (
	ErrNotAbsolute    = errors.New("path must start with /")
	ErrBadEscape      = errors.New("malformed percent-encoding in path")
	ErrEncodedSlash   = errors.New("encoded slash or backslash in path")
	ErrBackslash      = errors.New("backslash in path")
	ErrControlOrSpace = errors.New("control character in path")
)

// Normalize returns the canonical form of an escaped request path (as sent on
// the request line, without the query):
//   - percent-encodings of unreserved characters (RFC 3986 §2.3) are decoded,
//     so `%2e` is a dot and `%41` is `A`; every other encoding is kept, with
//     upper-case hex digits;
//   - `.` and `..` segments are removed (RFC 3986 §5.2.4; `..` never climbs
//     above the root) and empty segments (`//`) are collapsed;
//   - a trailing slash is kept.
//
// Paths that an upstream could read differently from the router are refused:
// encoded `/` or `\` (`%2F`, `%5C`), a raw backslash, NUL and other control
// characters, and malformed escapes.
//
// A path that is already canonical is returned as is, without allocating.
func Normalize(p string) (string, error) {
	if p == "" || p[0] != '/' {
		return "", ErrNotAbsolute
	}
	if isClean(p) {
		return p, nil
	}
	return normalizeSlow(p)
}

// isClean reports whether p needs no work: no escapes, no backslash or control
// characters, no empty, `.` or `..` segments.
func isClean(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%' || c == '\\' || c < 0x21 || c == 0x7f:
			return false
		case c == '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return false
			}
			if i+1 < len(p) && p[i+1] == '.' {
				// "/." followed by end, "/" or ".(end|/)"
				rest := p[i+2:]
				if rest == "" || rest[0] == '/' || rest == "." || strings.HasPrefix(rest, "./") {
					return false
				}
			}
		}
	}
	return true
}

func normalizeSlow(p string) (string, error) {
	// Decode unreserved escapes and check every byte, segment by segment.
	segs := make([]string, 0, 8)
	trailingSlash := false
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		var raw string
		if j < 0 {
			raw = p[i:]
			i = len(p) + 1
		} else {
			raw = p[i : i+j]
			i += j + 1
			if i == len(p) {
				trailingSlash = true
				i = len(p) + 1
			}
		}
		seg, err := canonicalSegment(raw)
		if err != nil {
			return "", err
		}
		switch seg {
		case "", ".":
			if j < 0 && seg == "." {
				trailingSlash = true
			}
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			if j < 0 {
				trailingSlash = true
			}
		default:
			segs = append(segs, seg)
		}
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailingSlash || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// canonicalSegment decodes the unreserved escapes of one segment and upper-cases
// the hex of the rest.
func canonicalSegment(s string) (string, error) {
	if !strings.ContainsAny(s, "%\\") && !hasControl(s) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			return "", ErrBackslash
		case c < 0x21 || c == 0x7f:
			return "", ErrControlOrSpace
		case c == '%':
			if i+2 >= len(s) || !httpsyntax.IsHex(s[i+1]) || !httpsyntax.IsHex(s[i+2]) {
				return "", ErrBadEscape
			}
			v := byte(httpsyntax.Unhex(s[i+1])<<4 | httpsyntax.Unhex(s[i+2]))
			switch {
			case v == '/' || v == '\\':
				return "", ErrEncodedSlash
			case v < 0x20 || v == 0x7f:
				return "", ErrControlOrSpace
			case isUnreserved(v):
				b.WriteByte(v)
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&0xf])
			}
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

const upperHex = "0123456789ABCDEF"

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
