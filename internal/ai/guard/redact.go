package guard

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// span is one value found: s[start:end] of a kind.
type span struct {
	start, end int
	kind       kind
}

// scanner holds the scratch space of the detectors, pooled so that a
// clean prompt costs no allocation.
type scanner struct {
	spans  []span
	groups []group
	norm   []byte // the normalized text of the injection heuristics
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

func getScanner() *scanner { return scanners.Get().(*scanner) }

func putScanner(sc *scanner) {
	if cap(sc.norm) > 1<<16 { // do not keep one huge prompt's buffer alive
		sc.norm = nil
	}
	scanners.Put(sc)
}

// maxPasses bounds redaction to a fixpoint. A replacement can change what
// its neighbours look like (a phone glued to an IBAN only stands alone once
// the IBAN is gone), so redaction runs again until nothing more is found;
// in practice the second pass finds nothing.
const maxPasses = 4

// Redact returns s with every value the detectors find replaced by its
// kind's marker, and how many of each kind were replaced (nil for none).
// It is what CheckChat applies to each text, exported for callers that
// redact text outside a request.
func Redact(s string) (string, map[string]int) {
	sc := getScanner()
	defer putScanner(sc)
	var c counts
	out := sc.redact(s, false, &c)
	return out, c.toMap()
}

// add records a value found.
func (sc *scanner) add(start, end int, k kind) {
	sc.spans = append(sc.spans, span{start, end, k})
}

// find returns the values in s, sorted and without overlaps.
func (sc *scanner) find(s string) []span {
	sc.spans = sc.spans[:0]
	if len(s) < 5 { // the shortest value, a@b.cc, is longer
		return nil
	}
	sc.emails(s)
	sc.pemBlocks(s)
	sc.scan(s)
	return sc.merge(s)
}

// merge sorts the spans and joins overlapping ones: the earliest (then
// longest) gives the kind, and the union is replaced so that no fragment
// of either value is left behind. A span that begins inside an escape
// begins at its backslash instead.
func (sc *scanner) merge(s string) []span {
	sp := sc.spans
	if len(sp) == 0 {
		return nil
	}
	for i := range sp {
		if e := escapeAt(s, sp[i].start); e >= 0 {
			sp[i].start = e
		}
	}
	if len(sp) > 1 {
		slices.SortFunc(sp, func(a, b span) int {
			if a.start != b.start {
				return cmp.Compare(a.start, b.start)
			}
			return cmp.Compare(b.end, a.end)
		})
	}
	out := sp[:1]
	for _, x := range sp[1:] {
		last := &out[len(out)-1]
		if x.start < last.end {
			last.end = max(last.end, x.end)
			continue
		}
		out = append(out, x)
	}
	sc.spans = out
	return out
}

// redact replaces the values in s until none is found. In a JSON document
// (jsonDoc), a value outside any string is a bare scalar; it is replaced
// whole by a quoted marker, so that the document stays JSON.
func (sc *scanner) redact(s string, jsonDoc bool, c *counts) string {
	for range maxPasses {
		spans := sc.find(s)
		if len(spans) == 0 {
			break
		}
		out, n := sc.replace(s, spans, jsonDoc, c)
		if n == 0 {
			break
		}
		s = out
	}
	return s
}

// replace writes s with spans replaced, and says how many were. In a JSON
// document, a span outside the strings that is not part of a scalar is no
// value (the detectors read text, not JSON: in "token=","n" the quote after
// = closes the string) and stays.
func (sc *scanner) replace(s string, spans []span, jsonDoc bool, c *counts) (string, int) {
	var b strings.Builder
	b.Grow(len(s) + 16*len(spans))
	last, n := 0, 0
	js := jsonState{s: s}
	for _, x := range spans {
		start, end := x.start, x.end
		if start < last { // inside the scalar a quoted marker replaced
			continue
		}
		tok := kindTokens[x.kind]
		if jsonDoc && !js.inString(start) {
			if strings.IndexFunc(s[start:end], func(r rune) bool { return r >= utf8.RuneSelf || !isScalarByte(byte(r)) }) >= 0 {
				continue
			}
			for start > last && isScalarByte(s[start-1]) {
				start--
			}
			for end < len(s) && isScalarByte(s[end]) {
				end++
			}
			tok = quotedTokens[x.kind]
			js.skipTo(end)
		}
		b.WriteString(s[last:start])
		b.WriteString(tok)
		last = end
		c[x.kind]++
		n++
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// isScalarByte reports whether c belongs to a bare JSON scalar (a number
// or a literal), the extent a quoted marker replaces.
func isScalarByte(c byte) bool { return isAlnum(c) || c == '.' || c == '+' || c == '-' }

// jsonState tracks, moving forward only, whether a position of a JSON
// document lies inside a string.
type jsonState struct {
	s   string
	pos int
	in  bool
}

func (j *jsonState) inString(i int) bool {
	j.skipTo(i)
	return j.in
}

func (j *jsonState) skipTo(i int) {
	for ; j.pos < i && j.pos < len(j.s); j.pos++ {
		switch c := j.s[j.pos]; {
		case c == '"':
			j.in = !j.in
		case c == '\\' && j.in:
			j.pos++
		}
	}
}

// redactArguments redacts a tool call's JSON-encoded arguments, keeping
// them JSON when they were.
func (sc *scanner) redactArguments(args string, c *counts) string {
	if len(args) < 5 {
		return args
	}
	return sc.redact(args, json.Valid([]byte(args)), c)
}
