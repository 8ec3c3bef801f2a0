package guard

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// denyPattern is a compiled deny pattern and a prefilter: literals one of
// which any match must contain. RE2 skips ahead to a case-sensitive literal
// prefix itself, but a (?i) pattern or one that starts with a class makes
// it read the whole prompt; most deny patterns are keywords, and looking
// for the keyword first costs a fraction of that.
type denyPattern struct {
	re       *regexp.Regexp
	literals []literal // nil: no prefilter
}

// literal is a string a match must contain, in ASCII any case when fold.
type literal struct {
	s    string
	fold bool
}

func compileDeny(p string) (denyPattern, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return denyPattern{}, err
	}
	d := denyPattern{re: re}
	if t, err := syntax.Parse(p, syntax.Perl); err == nil {
		d.literals = required(t.Simplify())
	}
	return d, nil
}

// required returns literals one of which every match of t contains, or
// nil when it cannot tell.
func required(t *syntax.Regexp) []literal {
	switch t.Op {
	case syntax.OpLiteral:
		fold := t.Flags&syntax.FoldCase != 0
		s := string(t.Rune)
		for _, r := range t.Rune {
			// Beyond ASCII, and for k and s (which fold to the Kelvin sign
			// and the long s), case folding is Unicode's: no prefilter.
			if r >= utf8.RuneSelf || fold && (r|0x20 == 'k' || r|0x20 == 's') {
				return nil
			}
		}
		if len(s) < 3 {
			return nil // too common to be worth looking for
		}
		if fold {
			s = strings.ToLower(s)
		}
		return []literal{{s, fold}}
	case syntax.OpCapture, syntax.OpPlus:
		return required(t.Sub[0])
	case syntax.OpRepeat:
		if t.Min >= 1 {
			return required(t.Sub[0])
		}
	case syntax.OpConcat:
		var best []literal
		for _, sub := range t.Sub {
			if l := required(sub); l != nil && (best == nil || shortest(l) > shortest(best)) {
				best = l
			}
		}
		return best
	case syntax.OpAlternate:
		var all []literal
		for _, sub := range t.Sub {
			l := required(sub)
			if l == nil {
				return nil
			}
			all = append(all, l...)
		}
		return all
	}
	return nil
}

func shortest(ls []literal) int {
	n := len(ls[0].s)
	for _, l := range ls[1:] {
		n = min(n, len(l.s))
	}
	return n
}

// match reports whether text matches the pattern.
func (d *denyPattern) match(text string) bool {
	if d.literals != nil && !d.mayMatch(text) {
		return false
	}
	return d.re.MatchString(text)
}

func (d *denyPattern) mayMatch(text string) bool {
	for _, l := range d.literals {
		if !l.fold {
			if strings.Contains(text, l.s) {
				return true
			}
		} else if containsFold(text, l.s) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lowercase ASCII lit in any
// case.
func containsFold(s, lit string) bool {
	c0 := lit[0]
	for i := 0; i+len(lit) <= len(s); i++ {
		if c := s[i]; c == c0 || isAlpha(c0) && c|0x20 == c0 {
			if strings.EqualFold(s[i:i+len(lit)], lit) {
				return true
			}
		}
	}
	return false
}
