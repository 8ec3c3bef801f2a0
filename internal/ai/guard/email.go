package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// emails finds email addresses: a local part of letters, digits and
// ._%+-, an @, and a domain of at least two labels whose last is a
// top-level domain of two or more letters. Letters outside ASCII count, so
// that an internationalized address is not half left behind.
func (sc *scanner) emails(s string) {
	for from := 0; ; {
		k := strings.IndexByte(s[from:], '@')
		if k < 0 {
			return
		}
		at := from + k
		from = at + 1
		start := localStart(s, at)
		if start == at {
			continue
		}
		end := domainEnd(s, at+1)
		if end < 0 || notAnAddress(s[start:at], s[at+1:end]) {
			continue
		}
		sc.add(start, end, kindEmail)
		from = end
	}
}

// localStart is where the local part ending at s[at] begins (at if there
// is none). It does not run into an escape's letter: "\nbob@..." is bob.
func localStart(s string, at int) int {
	j := at
	for j > 0 {
		c := s[j-1]
		if c < utf8.RuneSelf {
			if !(isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') || escapeAt(s, j-1) >= 0 {
				break
			}
			j--
			continue
		}
		r, n := utf8.DecodeLastRuneInString(s[:j])
		if !isLetterRune(r) {
			break
		}
		j -= n
	}
	for j < at && (s[j] == '.' || s[j] == '-' || s[j] == '+') {
		j++
	}
	return j
}

// domainEnd is where the domain starting at s[i] ends, or -1: after the
// last label that is a top-level domain, two or more letters, so that a
// sentence's full stop or a file name after it stays.
func domainEnd(s string, i int) int {
	end := -1
	for labels := 0; ; labels++ {
		ls := i
		alpha := 0 // leading letters of the label
		for i < len(s) {
			c := s[i]
			if c < utf8.RuneSelf {
				if !(isAlnum(c) || c == '-') {
					break
				}
				if isAlpha(c) && alpha == i-ls {
					alpha++
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isLetterRune(r) {
				break
			}
			if alpha == i-ls && unicode.IsLetter(r) {
				alpha += n
			}
			i += n
		}
		if i == ls || s[ls] == '-' {
			return end
		}
		if labels >= 1 && alpha >= 2 && (ls+alpha == i || s[ls+alpha] == '-') {
			end = ls + alpha
		}
		if i+1 < len(s) && s[i] == '.' {
			i++
			continue
		}
		return end
	}
}

func isLetterRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))
}

// notAnAddress rules out the address-shaped strings of code: git's ssh
// user (git@github.com:org/repo.git) and retina image names (icon@2x.png).
func notAnAddress(local, domain string) bool {
	if strings.EqualFold(local, "git") {
		return true
	}
	label, _, _ := strings.Cut(domain, ".")
	if len(label) >= 2 && (label[len(label)-1] == 'x' || label[len(label)-1] == 'X') {
		for i := 0; i < len(label)-1; i++ {
			if !isDigit(label[i]) {
				return false
			}
		}
		return true
	}
	return false
}
