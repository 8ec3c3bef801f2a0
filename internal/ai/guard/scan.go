package guard

import "strings"

// Byte classes of the scanning pass: what a byte may start.
const (
	cDigit  = 1 << iota // a number, or an identifier whose digits start here
	cSep                // an assignment's = or :
	cSecret             // a service key or token (by its first letter)
)

var byteClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['='], t[':'] = cSep, cSep
	for _, c := range "srAgxehBb" {
		t[c] = cSecret
	}
	return t
}()

// scan is the one pass over s of the detectors that start at a byte:
// numbers and the identifiers around digits, service keys, assignments.
// (Emails start from an @ and PEM blocks from a marker, which IndexByte
// and Index find faster.)
func (sc *scanner) scan(s string) {
	clusterEnd := 0
	esc := strings.IndexByte(s, '\\') >= 0
	for i := 0; i < len(s); i++ {
		switch byteClass[s[i]] {
		case 0:
		case cDigit:
			if i > 0 && isDigit(s[i-1]) {
				continue
			}
			sc.letterIDs(s, i)
			if i >= clusterEnd {
				clusterEnd = sc.cluster(s, i)
			}
		case cSep:
			sc.assignment(s, i)
		case cSecret:
			// A key starts a word: not after a letter, digit, _ or - (unless
			// that is an escape's letter). This also keeps the scan linear:
			// a run a failed key scanned holds no other start.
			if i > 0 && isKeyByte(s[i-1]) && (!esc || escapeAt(s, i-1) < 0) {
				continue
			}
			if start, end := token(s, i); end > 0 {
				sc.add(start, end, kindSecret)
				i = end - 1
			}
		}
	}
}
