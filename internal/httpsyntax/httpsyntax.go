// Package httpsyntax is the HTTP grammar (RFC 9110 §5, RFC 9112, and the
// percent-encodings of RFC 3986) that the edge's HTTP/1.1 server reads
// requests by, the path normalizer decodes paths by, and the upstream
// transport writes requests and reads responses by: one definition, so
// that every part of the gateway agrees on what a token, a field value, a
// length and a hex digit are. Everything here works without allocating.
package httpsyntax

import "strings"

// tokenBytes marks the bytes allowed in a token, and so in a method or a
// field name (RFC 9110 §5.6.2).
var tokenBytes = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// ValidToken reports whether s is a non-empty token, as field names and
// methods must be.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether s may be a field value: no control
// characters other than horizontal tab, so no CR, LF or NUL can split a
// field or a message. obs-text (0x80–0xFF) is allowed.
func ValidFieldValue[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// TrimOWS removes optional whitespace (SP and HTAB) from both ends of s.
func TrimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// ParseLength parses a Content-Length value: decimal digits only, no
// sign, no list, within int64.
func ParseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// HasToken reports whether the comma-separated lists in values name token,
// compared case-insensitively, as in Connection and Upgrade fields.
func HasToken(values []string, token string) bool {
	for _, v := range values {
		if ListHas(v, token) {
			return true
		}
	}
	return false
}

// ListHas reports whether the comma-separated list v names token, compared
// case-insensitively.
func ListHas(v, token string) bool {
	for v != "" {
		var elem string
		elem, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(TrimOWS(elem), token) {
			return true
		}
	}
	return false
}

// Unhex is the value of the hexadecimal digit c, or -1 when c is not one
// (percent-encodings, chunk sizes).
func Unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// IsHex reports whether c is a hexadecimal digit.
func IsHex(c byte) bool { return Unhex(c) >= 0 }
