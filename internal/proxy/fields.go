package proxy

import "strings"

// Header field syntax (RFC 9110 §5) shared by the request writer and the
// response parser. Everything here works on strings without allocating.

// tokenBytes marks the bytes allowed in a token, and so in a field name
// (RFC 9110 §5.6.2).
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

// validToken reports whether s is a non-empty token, as field names and
// methods must be.
func validToken(s string) bool {
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

// validFieldValue reports whether s may be sent as a field value: no control
// characters other than horizontal tab, so no CR, LF or NUL can split a field
// or a message. obs-text (0x80–0xFF) is allowed.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (SP and HTAB) from both ends of s.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// hasToken reports whether the comma-separated lists in values name token,
// compared case-insensitively, as in Connection and Upgrade fields.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		if listHas(v, token) {
			return true
		}
	}
	return false
}

// listHas reports whether the comma-separated list v names token, compared
// case-insensitively.
func listHas(v, token string) bool {
	for v != "" {
		var elem string
		elem, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// equalFoldAny reports whether name equals one of names, ignoring ASCII case.
func equalFoldAny(name string, names []string) bool {
	for _, n := range names {
		if len(n) == len(name) && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// hopByHop lists the fields that describe one connection and are never
// relayed to the next hop, in either direction (RFC 9110 §7.6.1, plus the
// obsolete ones proxies still meet).
var hopByHop = []string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// gatewayOwned lists the request fields a client may not set for the
// upstream: the gateway writes its own values (or none), so client copies are
// dropped whatever they say. X-Consumer-* is handled by prefix.
var gatewayOwned = []string{
	"Host",
	"Content-Length",
	"Expect",
	"Http2-Settings",
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Proto",
	"X-Forwarded-Host",
	"X-Real-Ip",
	"X-Request-Id",
}

// consumerPrefix starts the identity fields only the gateway may send.
const consumerPrefix = "X-Consumer-"

// reservedFields are fields an extra header may never be named: they frame
// or route the message, or Forward writes them itself, so a second copy
// would invite request smuggling or contradict the gateway.
var reservedFields = []string{
	"Host",
	"Content-Length",
	"Transfer-Encoding",
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Te",
	"Trailer",
	"Upgrade",
	"Expect",
	"Http2-Settings",
	"X-Forwarded-For",
	"X-Forwarded-Proto",
	"X-Forwarded-Host",
	"X-Request-Id",
}
