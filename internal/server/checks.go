package server

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/httpsyntax"
	"github.com/portcullis/portcullis/internal/server/http1"
)

// checkHTTP refuses, before any policy sees it, a request that the gateway
// must not pass on: one the HTTP/1.1 server read but will not take (an
// ambiguously framed one: see http1.RefusalOf), one whose path an upstream
// may resolve above the route (see dotSegmentWithParams), one whose Host
// is not a host and port (it is what routes the request and what
// X-Forwarded-Host tells the upstream), and one whose request-target is
// longer than the header limit (414).
func checkHTTP(r *http.Request, maxTarget int) *httperr.Error {
	if refusal := http1.RefusalOf(r); refusal != nil {
		e := httperr.New(refusal.Status, httperr.DecisionInvalid, refusal.Detail, nil)
		e.Header = http.Header{"Connection": {"close"}}
		return e
	}
	if dotSegmentWithParams(r.URL.Path) {
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "invalid request path: dot-segment with parameters", nil)
	}
	if !validHost(r.Host) {
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "invalid Host header", nil)
	}
	if len(r.RequestURI) > maxTarget {
		return httperr.New(http.StatusRequestURITooLong, httperr.DecisionInvalid, "request target too long", nil)
	}
	return nil
}

// validHost reports whether h is uri-host [":" port] (RFC 9110 §7.2, RFC
// 3986 §3.2.2): a bracketed IPv6 address, or a reg-name or IPv4 address
// without a colon, then at most five port digits. net/http checks only the
// characters, so "a:b:c" or "a]b" would otherwise pass. An empty Host is
// left to net/http, which allows it in HTTP/1.0 only.
func validHost(h string) bool {
	if h == "" {
		return true
	}
	var port string
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if a, err := netip.ParseAddr(h[1:end]); err != nil || !a.Is6() {
			return false
		}
		rest := h[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return false
			}
			port = rest[1:]
		}
	} else {
		host := h
		if i := strings.IndexByte(h, ':'); i >= 0 {
			host, port = h[:i], h[i+1:]
		}
		if !validRegName(host) {
			return false
		}
	}
	if len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// validRegName reports whether s is a non-empty reg-name: unreserved
// characters, sub-delims and percent-encodings (IPv4 addresses included).
func validRegName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !httpsyntax.IsHex(s[i+1]) || !httpsyntax.IsHex(s[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

// dotSegmentWithParams reports whether the decoded path has a segment that
// is "." or ".." once path parameters are cut off (";..."): the router
// sees "/public/..;/admin" as a segment named "..;" under /public, but
// servlet containers drop the parameters and climb to /admin.
func dotSegmentWithParams(path string) bool {
	if strings.IndexByte(path, ';') < 0 {
		return false
	}
	for seg := range strings.SplitSeq(path, "/") {
		if name, _, ok := strings.Cut(seg, ";"); ok && (name == "." || name == "..") {
			return true
		}
	}
	return false
}
