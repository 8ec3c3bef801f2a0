package audit

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces personal data in a recorded path.
const Redacted = "[redacted]"

// sensitiveParams are the query parameters whose values are never
// recorded, compared in lower case.
var sensitiveParams = map[string]bool{
	"token": true, "access_token": true, "api_key": true, "key": true, "password": true, "secret": true,
}

// emailRE matches an email address, also with its @ percent-encoded as it
// is in a raw query. It stops at '/', '=', '&' and '?', so it never spans
// path segments or parameters.
var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)

// RedactPath returns path and its raw query (without the '?'; "" for
// none) as the audit trail records them: email addresses and card numbers
// in either, and the values of sensitive query parameters, become
// Redacted. path is the decoded path; the query stays as sent, apart from
// what is redacted.
func RedactPath(path, rawQuery string) string {
	path = redactText(path)
	if rawQuery == "" {
		return path
	}
	var b strings.Builder
	b.Grow(len(path) + 1 + len(rawQuery))
	b.WriteString(path)
	b.WriteByte('?')
	for i, param := range strings.Split(rawQuery, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(param, "=")
		if hasValue && isSensitive(name) {
			b.WriteString(name)
			b.WriteString("=" + Redacted)
			continue
		}
		b.WriteString(redactText(param))
	}
	return b.String()
}

// isSensitive reports whether a raw parameter name, decoded, is one of
// sensitiveParams in any case.
func isSensitive(raw string) bool {
	name, err := url.QueryUnescape(raw)
	if err != nil {
		name = raw
	}
	return sensitiveParams[strings.ToLower(strings.TrimSpace(name))]
}

// redactText redacts email addresses and card numbers in s.
func redactText(s string) string {
	if strings.IndexByte(s, '@') >= 0 || strings.Contains(s, "%40") {
		// An address needs its @: most paths skip the regular expression.
		s = emailRE.ReplaceAllLiteralString(s, Redacted)
	}
	return redactCards(s)
}

// redactCards replaces every card number in s: a run of 13 to 19 digits,
// each pair optionally parted by one space, dash or plus (also
// percent-encoded), that passes the Luhn check. A run is taken whole, so
// that the digits of a longer number are not mistaken for a card.
func redactCards(s string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		start, end := i, i
		var digits [19]byte
		n := 0
		for j := i; j < len(s); {
			if !isDigit(s[j]) {
				break
			}
			if n < len(digits) {
				digits[n] = s[j]
			}
			n++
			j++
			end = j
			if sep := separatorLen(s[j:]); sep > 0 && j+sep < len(s) && isDigit(s[j+sep]) {
				j += sep
			}
		}
		i = end
		if n < 13 || n > 19 || !luhn(digits[:n]) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// separatorLen is the length of the digit separator s starts with, or 0.
func separatorLen(s string) int {
	switch {
	case s == "":
		return 0
	case s[0] == ' ' || s[0] == '-' || s[0] == '+':
		return 1
	case len(s) >= 3 && s[0] == '%' && (s[1:3] == "20" || strings.EqualFold(s[1:3], "2d")):
		return 3
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// luhn reports whether digits pass the Luhn check of card numbers.
func luhn(digits []byte) bool {
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
