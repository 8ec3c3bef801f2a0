package guard

import (
	"regexp/syntax"
	"slices"
	"testing"
	"unicode"
)

func TestDenyPrefilter(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    []literal
	}{
		{`project zeus`, []literal{{"project zeus", false}}},
		{`(?i)project\s+zeus`, []literal{{"project", true}}},       // zeus has an s
		{`(?i)(acme|globex) merger`, []literal{{" merger", true}}}, // the longer requirement
		{`(?i)(acme|globex)`, []literal{{"acme", true}, {"globex", true}}},
		{`(?i)(?:foo|\d+)`, nil}, // an alternative without a literal
		{`\bpassword\b`, []literal{{"password", false}}},
		{`(?i)kill`, nil}, // k folds to the Kelvin sign
		{`ab`, nil},       // too short
		{`x(abc)+y`, []literal{{"abc", false}}},
		{`x(abc)*y`, nil},
		{`café`, nil}, // not ASCII
	} {
		d, err := compileDeny(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.literals, tc.want) {
			t.Errorf("%s: literals %v, want %v", tc.pattern, d.literals, tc.want)
		}
	}
}

// TestDenyPrefilterAgrees: the prefilter never changes what matches.
func TestDenyPrefilterAgrees(t *testing.T) {
	patterns := []string{`project zeus`, `(?i)project\s+zeus`, `(?i)(acme|globex) merger`, `(?i)ZEUS`, `(?i)top\.secret`, `x(abc)+y`, `(?i)Straße`, `(?i)kelvin`}
	texts := []string{"", "Project  ZEUS is late", "project zeus", "PROJECT\tzeus", "projectzeus", "acme Merger", "GLOBEX MERGER",
		"the \u212aelvin scale", "top.secret", "TOP.SECRET file", "xabcabcy", "xy", "STRASSE", "straße", "proj ect zeus"}
	for _, p := range patterns {
		d, err := compileDeny(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			if got, want := d.match(s), d.re.MatchString(s); got != want {
				t.Errorf("%s on %q: %v, regexp says %v", p, s, got, want)
			}
		}
	}
}

// TestASCIIFoldOrbits backs the prefilter's rule that only k and s among
// the ASCII letters fold to runes beyond ASCII.
func TestASCIIFoldOrbits(t *testing.T) {
	for c := 'a'; c <= 'z'; c++ {
		var beyond []rune
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if r >= 0x80 {
				beyond = append(beyond, r)
			}
		}
		if (len(beyond) > 0) != (c == 'k' || c == 's') {
			t.Errorf("%c folds to %q", c, beyond)
		}
	}
	// And the parser keeps a folded word a literal, which required needs.
	re, _ := syntax.Parse(`(?i)project`, syntax.Perl)
	if re.Op != syntax.OpLiteral {
		t.Errorf("(?i)project parses to %v", re.Op)
	}
}
