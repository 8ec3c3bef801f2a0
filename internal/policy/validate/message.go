package validate

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what an error message repeats, so that a 400 never echoes a large
// input back: any piece of the input (a value, a key, a header) is cut at
// maxEcho bytes, a library's reason at maxReason and a field path at maxPath.
const (
	maxEcho   = 64
	maxReason = 160
	maxPath   = 200
)

// capString cuts s to at most n bytes, on a rune boundary, marking the cut.
func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// quote quotes a piece of the input, cut to maxEcho bytes.
func quote(s string) string { return strconv.Quote(capString(s, maxEcho)) }

// fieldPath renders JSON pointer tokens below root as root.items[2].quantity,
// looking at value (the decoded document the tokens point into) to tell array
// indexes from object keys. Keys that are not identifiers are quoted.
func fieldPath(root string, value any, tokens []string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, t := range tokens {
		if b.Len() > maxPath {
			b.WriteString("…")
			break
		}
		switch c := value.(type) {
		case []any:
			b.WriteByte('[')
			b.WriteString(capString(t, maxEcho))
			b.WriteByte(']')
			value = nil
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(c) {
				value = c[i]
			}
		case map[string]any:
			writeKey(&b, t)
			value = c[t]
		default:
			writeKey(&b, t)
			value = nil
		}
	}
	return b.String()
}

// writeKey appends an object key to a field path: .name, or ["odd key"].
func writeKey(b *strings.Builder, k string) {
	b.Write(appendKey(nil, k))
}

// appendKey appends an object key as a field path writes it.
func appendKey(b []byte, k string) []byte {
	if isIdentifier(k) && len(k) <= maxEcho {
		return append(append(b, '.'), k...)
	}
	return append(append(append(b, '['), quote(k)...), ']')
}

// isIdentifier reports whether k can be written after a dot unambiguously.
func isIdentifier(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_' || c == '$', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case ('0' <= c && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
