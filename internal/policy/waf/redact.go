package waf

import (
	"strings"
	"unicode/utf8"
)

// Detections travel to logs, the audit trail and alerts, so the matched data
// they carry is cut to a short prefix, and values that hold credentials are
// replaced entirely.
const (
	maxDataValue = 32 // bytes of a matched value kept
	maxDataKey   = 64 // bytes of a variable key (an argument or header name) kept
	redacted     = "[redacted]"
)

// matchedData renders where a rule matched and what: "ARGS:id: 1' or 1=1".
func matchedData(variable, key, value string) string {
	where := variable
	if key != "" {
		where += ":" + truncate(key, maxDataKey)
	}
	switch {
	case variable == "REQUEST_COOKIES" || sensitiveName(key):
		value = redacted
	default:
		value = truncate(redactQuery(value), maxDataValue)
	}
	return where + ": " + value
}

// sensitiveName reports whether a header or argument of this name carries a
// credential (Authorization, Cookie, X-API-Key, password, access_token, a
// JSON body's json.user.password…).
func sensitiveName(name string) bool {
	if name == "" {
		return false
	}
	n := strings.ToLower(name)
	if i := strings.LastIndexAny(n, ".["); i >= 0 { // json.a.password, a[password]
		n = strings.TrimSuffix(n[i+1:], "]")
	}
	if n == "key" {
		return true
	}
	for _, s := range []string{"auth", "cookie", "token", "secret", "passw", "api-key", "api_key", "apikey", "session", "signature"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactQuery replaces the values of credential-named parameters in a
// query-string-like value (REQUEST_URI, QUERY_STRING, REQUEST_LINE, a form
// body): "/x?api_key=abc&q=1" becomes "/x?api_key=[redacted]&q=1".
func redactQuery(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	var b strings.Builder
	for s != "" {
		// a parameter name starts after one of these and ends at "="
		i := strings.IndexAny(s, "?&;= \n")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if s[i] != '=' {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		name := s[:i]
		b.WriteString(s[:i+1])
		s = s[i+1:]
		end := strings.IndexAny(s, "&; \n")
		if end < 0 {
			end = len(s)
		}
		if sensitiveName(name) {
			b.WriteString(redacted)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
	return b.String()
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
