package guard

import "strings"

// The kinds of value redaction replaces, as Verdict.Redacted names them.
const (
	KindEmail      = "email"
	KindPhone      = "phone"
	KindCard       = "card"
	KindIBAN       = "iban"
	KindNationalID = "national_id"
	KindSecret     = "secret"
)

// kind indexes the per-kind tables, so that counting needs no map until a
// verdict is built.
type kind uint8

const (
	kindEmail kind = iota + 1
	kindPhone
	kindCard
	kindIBAN
	kindNationalID
	kindSecret
	numKinds
)

var kindNames = [numKinds]string{"", KindEmail, KindPhone, KindCard, KindIBAN, KindNationalID, KindSecret}

// kindTokens are the replacements. They hold no quote or backslash, so
// that text inside a JSON string stays valid JSON, and no detector matches
// them, so that redaction is idempotent.
var kindTokens = [numKinds]string{"",
	"[REDACTED_EMAIL]", "[REDACTED_PHONE]", "[REDACTED_CARD]",
	"[REDACTED_IBAN]", "[REDACTED_NATIONAL_ID]", "[REDACTED_SECRET]",
}

// quotedTokens replace a value outside any string of a JSON document (a
// card number written as a JSON number): a bare token would not be JSON.
var quotedTokens = func() (q [numKinds]string) {
	for k := kindEmail; k < numKinds; k++ {
		q[k] = `"` + kindTokens[k] + `"`
	}
	return q
}()

// counts is how many values of each kind were redacted.
type counts [numKinds]int

// toMap is counts as Verdict.Redacted has them: nil when nothing was
// redacted, so that a clean call allocates nothing.
func (c *counts) toMap() map[string]int {
	var m map[string]int
	for k := kindEmail; k < numKinds; k++ {
		if c[k] > 0 {
			if m == nil {
				m = make(map[string]int, 2)
			}
			m[kindNames[k]] = c[k]
		}
	}
	return m
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// isWord reports whether c continues a word for the boundary checks of the
// secret and assignment detectors.
func isWord(c byte) bool { return isAlnum(c) || c == '_' }

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 32
	}
	return c
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// escapeAt returns where the backslash escape that covers s[i] begins, or
// -1. Prompts carry JSON text (tool arguments, tool results) whose escapes
// (\n, \", \u00e9) must neither be cut by a replacement nor have their
// letter read as part of a word: "\nsk-..." is a key after a newline.
func escapeAt(s string, i int) int {
	p := strings.LastIndexByte(s[max(0, i-5):i], '\\')
	if p < 0 {
		return -1
	}
	p += max(0, i-5)
	run := 0
	for q := p; q >= 0 && s[q] == '\\'; q-- {
		run++
	}
	if run%2 == 0 { // the backslash at p is itself escaped
		return -1
	}
	n := 2
	if p+5 < len(s) && s[p+1] == 'u' && isHex(s[p+2]) && isHex(s[p+3]) && isHex(s[p+4]) && isHex(s[p+5]) {
		n = 6
	}
	if i < p+n {
		return p
	}
	return -1
}

// before is the byte the boundary checks see in front of s[i]: a space at
// the start or after an escape, else s[i-1].
func before(s string, i int) byte {
	if i <= 0 {
		return ' '
	}
	c := s[i-1]
	// Only a letter, a digit or " / \ can end an escape.
	if (isAlnum(c) || c == '"' || c == '/' || c == '\\') && escapeAt(s, i-1) >= 0 {
		return ' '
	}
	return c
}

// after is the byte the boundary checks see at s[i], the first byte after
// a value: a space at the end or where an escape begins, else s[i].
func after(s string, i int) byte {
	if i >= len(s) {
		return ' '
	}
	if s[i] == '\\' && escapeAt(s, i+1) == i {
		return ' '
	}
	return s[i]
}
