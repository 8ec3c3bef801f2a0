package proxy

import "strings"

// Which fields cross the gateway, shared by the request writer and the
// response parser; their grammar is package httpsyntax's.

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
