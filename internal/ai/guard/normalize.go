package guard

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// normalize appends to dst the form of s the injection heuristics read,
// and reports whether s hides characters. The folding undoes the cheap
// disguises of an injected instruction: case; compatibility forms
// (fullwidth, mathematical and enclosed letters, small capitals,
// ligatures); accents; Cyrillic and Greek look-alikes; leetspeak digits;
// JSON escapes (tool results are often JSON); zero-width, bidi and tag
// characters, which are dropped, tags decoded to the ASCII they smuggle.
// What remains is lowercase letters, digits, the punctuation role markers
// are made of (< > | [ ] # / : , ' and . for any sentence end) and single
// spaces for everything else. It ends with a full stop, so that patterns
// can require one after a phrase without matching at a window's cut.
func normalize(dst []byte, s string) ([]byte, bool) {
	f := folder{b: slices.Grow(dst, len(s)+1)}
	hidden := false
	var prev byte = ' ' // the byte of s before the rune, for the joiner rule
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && c != '\\' { // the common case, inline
			switch fc := asciiFold[c]; fc {
			case ' ', '.', ',', ':':
				f.put(fc)
			default:
				f.b = append(f.b, fc)
			}
			prev = c
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			i += n
			hidden = f.rune(r, prev) || hidden
			prev = utf8.RuneSelf
			continue
		}
		if r, n := unescape(s[i:]); n > 0 {
			i += n
			hidden = f.rune(r, prev) || hidden
			prev = ' '
			continue
		}
		f.put(' ')
		prev = c
		i++
	}
	if len(f.b) == 0 || f.b[len(f.b)-1] != '.' {
		f.put('.')
	}
	return f.b, hidden
}

// folder builds a normalized text.
type folder struct{ b []byte }

// put appends c, collapsing spaces and dropping a space before . , :
func (f *folder) put(c byte) {
	switch c {
	case ' ':
		if len(f.b) == 0 || f.b[len(f.b)-1] == ' ' {
			return
		}
	case '.', ',', ':':
		if len(f.b) > 0 && f.b[len(f.b)-1] == ' ' {
			f.b = f.b[:len(f.b)-1]
		}
	}
	f.b = append(f.b, c)
}

// unescape reads the JSON escape at the start of s: the rune it stands for
// and its length, or length 0. A line break or tab reads as a space.
func unescape(s string) (rune, int) {
	if len(s) < 2 {
		return 0, 0
	}
	switch s[1] {
	case 'n', 'r', 't', 'b', 'f':
		return ' ', 2
	case '"', '\\', '/':
		return rune(s[1]), 2
	case 'u':
		if len(s) < 6 {
			return 0, 0
		}
		r := hex4(s[2:6])
		if r < 0 {
			return 0, 0
		}
		if 0xD800 <= r && r < 0xDC00 && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if lo := hex4(s[8:12]); 0xDC00 <= lo && lo < 0xE000 {
				return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12
			}
		}
		if 0xD800 <= r && r < 0xE000 {
			return ' ', 6
		}
		return r, 6
	}
	return 0, 0
}

func hex4(s string) rune {
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case 'a' <= c|0x20 && c|0x20 <= 'f':
			r = r<<4 | rune(c|0x20-'a'+10)
		default:
			return -1
		}
	}
	return r
}

// asciiFold maps each ASCII byte to what the heuristics see.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := range utf8.RuneSelf {
		b := byte(c)
		switch {
		case 'a' <= b && b <= 'z', b == '<', b == '>', b == '|', b == '[', b == ']',
			b == '#', b == '/', b == ':', b == ',', b == '\'':
			t[c] = b
		case 'A' <= b && b <= 'Z':
			t[c] = b + 'a' - 'A'
		case '0' <= b && b <= '9':
			t[c] = "oizeasbtbg"[b-'0'] // 1gn0r3 4ll pr3v10u5
		case b == '@':
			t[c] = 'a'
		case b == '$':
			t[c] = 's'
		case b == '.', b == '!', b == '?', b == ';':
			t[c] = '.'
		default:
			t[c] = ' '
		}
	}
	return t
}()

// rune appends the folded form of a non-ASCII rune r (or of an ASCII one
// decoded from an escape) and reports whether r is a hiding character.
// prev is the byte of s before it, ASCII or utf8.RuneSelf.
func (f *folder) rune(r rune, prev byte) bool {
	put := f.put
	switch {
	case r < utf8.RuneSelf:
		put(asciiFold[r])
	case r == 0x200C || r == 0x200D || 0xFE00 <= r && r <= 0xFE0F:
		// Joiners and variation selectors belong in emoji and some
		// scripts; between ASCII letters they only hide.
		return prev < utf8.RuneSelf && isAlnum(prev)
	case invisible(r):
		if 0xE0020 <= r && r <= 0xE007E { // a tag: the ASCII it encodes
			put(asciiFold[r-0xE0000])
		}
		return true
	case 0xFF01 <= r && r <= 0xFF5E: // fullwidth ASCII
		put(asciiFold[r-0xFEE0])
	case 0x00C0 <= r && r <= 0x00FF:
		put(latin1[r-0xC0])
	case 0x0100 <= r && r <= 0x017F:
		put(latinExtA[r-0x100])
	case 0x1D400 <= r && r <= 0x1D6A3: // mathematical letters, 52 a style
		if k := (r - 0x1D400) % 52; k < 26 {
			put(byte('a' + k))
		} else {
			put(byte('a' + k - 26))
		}
	case 0x1D7CE <= r && r <= 0x1D7FF: // mathematical digits
		put(asciiFold['0'+(r-0x1D7CE)%10])
	case 0x24B6 <= r && r <= 0x24CF: // Ⓐ
		put(byte('a' + r - 0x24B6))
	case 0x24D0 <= r && r <= 0x24E9: // ⓐ
		put(byte('a' + r - 0x24D0))
	case 0x249C <= r && r <= 0x24B5: // ⒜
		put(byte('a' + r - 0x249C))
	case 0x1F130 <= r && r <= 0x1F149, 0x1F150 <= r && r <= 0x1F169, 0x1F170 <= r && r <= 0x1F189: // 🄰 🅐 🅰
		put(byte('a' + (r-0x1F130)%32))
	case 0x1F1E6 <= r && r <= 0x1F1FF: // regional indicators
		put(byte('a' + r - 0x1F1E6))
	case 0xFB00 <= r && r <= 0xFB06: // ligatures
		for _, c := range []byte(ligatures[r-0xFB00]) {
			put(c)
		}
	case r == 0x2018 || r == 0x2019 || r == 0x02BC || r == 0x2032:
		put('\'')
	case r == 0x2026 || r == 0x3002 || r == 0xFF61:
		put('.')
	default:
		if c, ok := lookalikes[r]; ok {
			put(c)
			return false
		}
		switch {
		case unicode.Is(unicode.Mn, r): // a combining accent
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			f.b = utf8.AppendRune(f.b, unicode.ToLower(r))
		default:
			put(' ')
		}
	}
	return false
}

// invisible reports whether r renders as nothing: zero-width and format
// characters, bidi controls, fillers, tags.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x115F, r == 0x1160, r == 0x17B4, r == 0x17B5,
		r == 0x180E, r == 0x3164, r == 0xFFA0, r == 0xFEFF,
		0x200B <= r && r <= 0x200F, 0x202A <= r && r <= 0x202E, 0x2060 <= r && r <= 0x2064,
		0x2066 <= r && r <= 0x2069, 0xE0000 <= r && r <= 0xE007F, 0xE0100 <= r && r <= 0xE01EF:
		return true
	}
	return false
}

// latin1 folds U+00C0..U+00FF to their base letters (× and ÷ to spaces).
const latin1 = "aaaaaaaceeeeiiiidnooooo ouuuuyts" + "aaaaaaaceeeeiiiidnooooo ouuuuyty"

// latinExtA folds U+0100..U+017F to their base letters.
const latinExtA = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs"

var ligatures = [...]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}

// lookalikes fold the Cyrillic, Greek and IPA letters that pass for Latin
// ones, and small capitals.
var lookalikes = map[rune]byte{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's',
	'ԁ': 'd', 'һ': 'h', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w', 'ь': 'b',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't',
	'У': 'y', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's',
	'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p',
	'Τ': 't', 'Υ': 'y', 'Χ': 'x', 'Ζ': 'z',
	'ɡ': 'g', 'ȷ': 'j', 'ℎ': 'h', 'ℓ': 'l', 'ℯ': 'e', 'ℴ': 'o', 'ℊ': 'g',
	'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e', 'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j',
	'ᴋ': 'k', 'ʟ': 'l', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o', 'ᴘ': 'p', 'ǫ': 'q', 'ʀ': 'r', 'ꜱ': 's', 'ᴛ': 't',
	'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z',
}
