package guard

import (
	"strings"
)

// run returns the end of the run of bytes from s[i] that ok accepts.
func run(s string, i int, ok func(byte) bool) int {
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

func isKeyByte(c byte) bool    { return isAlnum(c) || c == '_' || c == '-' }
func isB64URLByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }
func isUpperAlnum(c byte) bool { return isUpper(c) || isDigit(c) }
func isBearerByte(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// mixed reports whether v has both a letter and a digit, as generated keys
// do and words do not.
func mixed(v string) bool {
	letter, digit := false, false
	for i := 0; i < len(v); i++ {
		letter = letter || isAlpha(v[i])
		digit = digit || isDigit(v[i])
	}
	return letter && digit
}

// token returns the extent of the service key or token at s[i] (a word
// start), or end 0.
func token(s string, i int) (start, end int) {
	rest := s[i:]
	// tail checks that the body after a prefix p has at least min bytes
	// ok accepts and, when exact, no more.
	tail := func(p string, minLen int, exact bool, ok func(byte) bool) int {
		if !strings.HasPrefix(rest, p) {
			return 0
		}
		e := run(s, i+len(p), ok)
		if n := e - i - len(p); n < minLen || exact && n != minLen {
			return 0
		}
		return e
	}
	switch s[i] {
	case 's': // OpenAI and Anthropic (sk-, sk-proj-, sk-ant-), Stripe
		if e := tail("sk-", 20, false, isKeyByte); e > 0 && mixed(s[i+3:e]) {
			return i, e
		}
		return i, tail("sk_live_", 10, false, isAlnum)
	case 'r': // Stripe restricted keys
		return i, tail("rk_live_", 10, false, isAlnum)
	case 'A': // AWS access key ids, Google API keys
		if strings.HasPrefix(rest, "AKIA") || strings.HasPrefix(rest, "ASIA") {
			if e := run(s, i+4, isUpperAlnum); e-i == 20 && !isAlnum(after(s, e)) {
				return i, e
			}
			return i, 0
		}
		return i, tail("AIza", 35, true, isB64URLByte)
	case 'g': // GitHub, GitLab
		if len(rest) > 4 && rest[0] == 'g' && rest[1] == 'h' && strings.IndexByte("pousr", rest[2]) >= 0 && rest[3] == '_' {
			return i, tail(rest[:4], 30, false, isAlnum)
		}
		if e := tail("github_pat_", 20, false, isWord); e > 0 {
			return i, e
		}
		return i, tail("glpat-", 20, false, isKeyByte)
	case 'x': // Slack
		if len(rest) > 5 && strings.HasPrefix(rest, "xox") && strings.IndexByte("abprs", rest[3]) >= 0 && rest[4] == '-' {
			if e := tail(rest[:5], 10, false, isKeyByte); e > 0 && mixed(s[i+5:e]) {
				return i, e
			}
		}
		return i, 0
	case 'h': // Hugging Face
		return i, tail("hf_", 30, false, isAlnum)
	case 'e':
		return i, jwt(s, i)
	case 'B', 'b': // an Authorization header's credentials; the scheme stays
		if len(rest) > 7 && strings.EqualFold(rest[:7], "bearer ") {
			e := run(s, i+7, isBearerByte)
			e = run(s, e, func(c byte) bool { return c == '=' })
			if e-i-7 >= 16 && mixed(s[i+7:e]) {
				return i + 7, e
			}
		}
		return i, 0
	}
	return i, 0
}

// jwt returns the end of the JSON Web Token at s[i], or 0: three base64url
// segments, the first a JSON header (eyJ), the last possibly empty.
func jwt(s string, i int) int {
	if !strings.HasPrefix(s[i:], "eyJ") {
		return 0
	}
	e := run(s, i+3, isB64URLByte)
	if e-i < 10 || e >= len(s) || s[e] != '.' {
		return 0
	}
	p := e + 1
	e = run(s, p, isB64URLByte)
	if e-p < 4 || e >= len(s) || s[e] != '.' {
		return 0
	}
	return run(s, e+1, isB64URLByte)
}

// pemBlocks finds PEM private key blocks, from BEGIN to END. A block whose
// END is missing (a truncated paste) runs over the lines that look like
// its body.
func (sc *scanner) pemBlocks(s string) {
	// The next END marker and quote are found once and reused by the
	// blocks before them, which keeps many BEGIN lines linear.
	endAt, quoteAt := -2, -2
	next := func(at *int, from int, sub string) {
		if *at != -1 && *at < from {
			if k := strings.Index(s[from:], sub); k >= 0 {
				*at = from + k
			} else {
				*at = -1
			}
		}
	}
	for from := 0; ; {
		k := strings.Index(s[from:], "-----BEGIN ")
		if k < 0 {
			return
		}
		start := from + k
		from = start + 11
		label := run(s, from, func(c byte) bool { return isUpper(c) || isDigit(c) || c == ' ' })
		if !strings.HasPrefix(s[label:], "-----") || !strings.Contains(s[from:label], "PRIVATE KEY") {
			continue
		}
		body := label + 5
		next(&endAt, body, "-----END ")
		next(&quoteAt, body, `"`)
		// An END with a quote before it is not this block's: in JSON text
		// the block would span strings.
		end := -1
		if endAt >= 0 && (quoteAt < 0 || quoteAt > endAt) {
			e := run(s, endAt+9, func(c byte) bool { return isUpper(c) || isDigit(c) || c == ' ' })
			if strings.HasPrefix(s[e:], "-----") {
				end = e + 5
			}
		}
		if end < 0 {
			end = pemBody(s, body)
		}
		sc.add(start, end, kindSecret)
		from = end
	}
}

// pemBody returns the end of the body lines of a block whose BEGIN line
// ends at s[i].
func pemBody(s string, i int) int {
	end, j := i, i
	for {
		for { // line breaks: newlines, or escaped ones in JSON text
			if j < len(s) && (s[j] == '\n' || s[j] == '\r') {
				j++
			} else if j+1 < len(s) && s[j] == '\\' && (s[j+1] == 'n' || s[j+1] == 'r') {
				j += 2
			} else {
				break
			}
		}
		e := run(s, j, func(c byte) bool { return isAlnum(c) || c == '+' || c == '/' || c == '=' })
		if !pemLineEnd(s, e) { // maybe a header: Proc-Type: 4,ENCRYPTED
			if h := run(s, j, isKeyByte); h < len(s) && s[h] == ':' {
				e = run(s, h, func(c byte) bool { return isAlnum(c) || strings.IndexByte(":,-. ", c) >= 0 })
			}
		}
		if e == j || !pemLineEnd(s, e) {
			return end
		}
		end, j = e, e
	}
}

// pemLineEnd reports whether a line of a PEM body may end at s[i]: at the
// end, a line break, or the quote that closes a JSON string.
func pemLineEnd(s string, i int) bool {
	return i == len(s) || s[i] == '\n' || s[i] == '\r' || s[i] == '"' ||
		s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'n' || s[i+1] == 'r')
}

// sensitiveKeys are the names, matched at the end of a key in any case,
// whose values are secrets: DB_PASSWORD, client_secret, GITHUB_TOKEN.
var sensitiveKeys = []string{
	"password", "passwd", "passphrase", "secret", "token",
	"apikey", "api_key", "api-key", "access_key", "accesskey",
	"secret_key", "secretkey", "private_key", "privatekey",
}

// assignment finds the secret value of the assignment whose separator
// ('=' or ':') is s[e]: key=value, key: value, "key": "value", key :=
// "value". The key's name decides; the value alone is replaced.
func (sc *scanner) assignment(s string, e int) {
	eq := s[e] == '='
	v := e + 1
	if eq {
		if e > 0 && strings.IndexByte("=!<>:+-*/%&|^~", s[e-1]) >= 0 {
			return // a comparison or compound operator, or := seen at ':'
		}
	} else if v < len(s) && s[v] == '=' { // Go's :=
		eq, v = true, v+1
	}
	if v < len(s) && (s[v] == '=' || s[v] == '>' || s[v] == '~') {
		return // ==, =>, =~
	}
	// The key: back over spaces and a closing quote (maybe escaped).
	j := e
	for j > 0 && e-j < 3 && s[j-1] == ' ' {
		j--
	}
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		j--
		if j > 0 && s[j-1] == '\\' {
			j--
		}
	}
	k := j
	for k > 0 && j-k < 64 && (isKeyByte(s[k-1]) || s[k-1] == '.') {
		k--
	}
	if !sensitiveKey(s[k:j]) {
		return
	}
	// The value: after spaces, quoted or bare.
	for n := 0; n < 3 && v < len(s) && (s[v] == ' ' || s[v] == '\t'); n++ {
		v++
	}
	if v >= len(s) {
		return
	}
	start, end, quoted := v, -1, true
	switch {
	case s[v] == '"':
		start = v + 1
		end = closing(s, start, '"', true)
	case s[v] == '\'' || s[v] == '`':
		start = v + 1
		end = closing(s, start, s[v], false)
	case s[v] == '\\' && v+1 < len(s) && s[v+1] == '"': // JSON inside a JSON string
		start = v + 2
		end = run(s, start, func(c byte) bool { return c != '\\' && c != '\n' && c != '"' })
	}
	if end < 0 {
		// A bare value: read at most maxValue+1 bytes, which keeps
		// password=password=... linear.
		start, quoted = v, false
		bare := s[:min(len(s), start+maxValue+1)]
		end = run(bare, start, isBareValueByte)
		if !eq { // key: value is not a query string; & belongs to the value
			for end < len(bare) && bare[end] == '&' {
				end = run(bare, end+1, isBareValueByte)
			}
		}
	}
	if end-start > maxValue { // cut long values at a rune and escape boundary
		end = start + maxValue
		for end > start && (s[end]&0xC0 == 0x80 || escapeAt(s, end) >= 0) {
			end--
		}
	}
	if secretValue(s[k:j], s[start:end], eq, quoted) {
		sc.add(start, end, kindSecret)
	}
}

// maxValue is the longest assignment value replaced whole; a longer one
// loses its first maxValue bytes, which is all a secret needs.
const maxValue = 256

// closing returns the index of the quote q that closes a value starting at
// s[i], or -1 within a line. In a JSON-style string, escapes are skipped
// whole.
func closing(s string, i int, q byte, escapes bool) int {
	for j := i; j < len(s) && j-i <= 1024; j++ {
		switch s[j] {
		case q:
			return j
		case '\n':
			return -1
		case '\\':
			if escapes {
				j++
			}
		}
	}
	return -1
}

func isBareValueByte(c byte) bool {
	return c > ' ' && strings.IndexByte("\"'`,;&)]}[<>\\", c) < 0
}

func sensitiveKey(key string) bool {
	if len(key) < 5 {
		return false
	}
	switch key[len(key)-1] | 0x20 { // what the names end with
	case 'd', 'e', 't', 'n', 'y':
	default:
		return false
	}
	for _, k := range sensitiveKeys {
		if len(key) >= len(k) && strings.EqualFold(key[len(key)-len(k):], k) {
			return true
		}
	}
	return false
}

// references are how values that name a secret instead of holding it
// begin: templates, environment lookups, settings objects.
var references = []string{"$", "{", "%(", "<", "process.env", "os.environ", "os.getenv", "env.", "ENV[", "getenv", "config.", "settings.", "secrets.", "self.", "this."}

// placeholders are values that stand for no secret.
var placeholders = []string{"null", "none", "nil", "true", "false", "undefined", "required", "optional", "string"}

// secretValue reports whether v, assigned to key (a sensitive name), is a
// secret rather than a placeholder, a reference to one, code or prose.
func secretValue(key, v string, eq, quoted bool) bool {
	if v == "" || !quoted && eq && len(v) < 3 {
		return false
	}
	for _, p := range placeholders {
		if strings.EqualFold(v, p) {
			return false
		}
	}
	if strings.HasPrefix(v, "[REDACTED_") || strings.Trim(v, "*•xX.") == "" || strings.ContainsAny(v, "(") {
		return false
	}
	for _, p := range references {
		if strings.HasPrefix(v, p) {
			return false
		}
	}
	// Code hands secrets on by name: password=password,
	// token=access_token, password = user.password.
	if !quoted && identPath(v) && (strings.IndexByte(v, '.') >= 0 || strings.EqualFold(v, key) || sensitiveKey(v)) {
		return false
	}
	if quoted || eq {
		return true
	}
	// After a colon, bare: a type (token: &str, secret: u64) or a word
	// ("Token: the smallest unit") is no secret.
	if len(v) < 4 || v[0] == '&' || v[0] == '*' || typeName(v) {
		return false
	}
	upperIn, lower := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 0x80: // a letter of another script
		case !isAlpha(c): // a digit or a symbol: not a word
			return true
		case isUpper(c):
			upperIn = upperIn || i > 0
		default:
			lower = true
		}
	}
	return upperIn && lower
}

// identPath reports whether v is an identifier or a dotted path of them,
// without digits: a variable, not a value.
func identPath(v string) bool {
	for seg := range strings.SplitSeq(v, ".") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if !isAlpha(seg[i]) && seg[i] != '_' {
				return false
			}
		}
	}
	return true
}

// typeName reports whether v names a sized number type (u32, int64,
// float64, usize), which a colon after a field name introduces.
func typeName(v string) bool {
	switch v {
	case "usize", "isize", "uint", "float":
		return true
	}
	for _, p := range []string{"uint", "int", "float", "u", "i", "f"} {
		if rest, ok := strings.CutPrefix(v, p); ok {
			switch rest {
			case "8", "16", "32", "64", "128":
				return true
			}
		}
	}
	return false
}
