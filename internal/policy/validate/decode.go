package validate

import (
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSON decodes a whole JSON body into the values both schema
// validators take: map[string]any, []any, string, json.Number (no precision
// lost), bool and nil. It is stricter than encoding/json in one way: an
// object with the same key twice is refused, because the upstream's parser
// might keep the value the schemas did not see. Its recursion is bounded by
// jsonDepth, which runs first.
func decodeJSON(data []byte) (any, error) {
	d := decoder{data: data}
	d.space()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.space(); d.pos < len(d.data) {
		return nil, &syntaxError{offset: d.pos, msg: "data after the value"}
	}
	return v, nil
}

// decoder is one decoding's state.
type decoder struct {
	data  []byte
	pos   int
	items []any // the elements of the arrays being decoded, copied out when each ends
}

// syntaxError is malformed JSON at a byte offset.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return e.msg + " at byte " + strconv.Itoa(e.offset)
}

// duplicateKeyError is an object key seen twice; path is where, innermost
// first, in rendered segments (.name or [2]).
type duplicateKeyError struct {
	key  string
	path []string
}

func (e *duplicateKeyError) Error() string { return "duplicate key " + quote(e.key) }

// bodyMessage says what is wrong with a body decodeJSON refused.
func bodyMessage(err error) string {
	switch e := err.(type) {
	case *syntaxError:
		return "body: malformed JSON: " + e.Error()
	case *duplicateKeyError:
		field := "body"
		for i := len(e.path) - 1; i >= 0; i-- {
			field += e.path[i]
		}
		return capString(field, maxPath) + ": " + e.Error()
	}
	return "body: malformed JSON"
}

// within adds a step of the path to a duplicate key found below it.
func within(err error, segment func() string) error {
	if e, ok := err.(*duplicateKeyError); ok {
		e.path = append(e.path, segment())
	}
	return err
}

func (d *decoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// unexpected is the error for the byte at d.pos, or for the end.
func (d *decoder) unexpected() error {
	if d.pos >= len(d.data) {
		return &syntaxError{offset: d.pos, msg: "unexpected end"}
	}
	return &syntaxError{offset: d.pos, msg: "unexpected character"}
}

func (d *decoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.unexpected()
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		s, err := d.string()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	}
	return nil, d.unexpected()
}

func (d *decoder) literal(word string, v any) (any, error) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		for i := 0; i < len(word) && d.pos < len(d.data) && d.data[d.pos] == word[i]; i++ {
			d.pos++ // point at the first wrong byte
		}
		return nil, d.unexpected()
	}
	d.pos += len(word)
	return v, nil
}

func (d *decoder) object() (any, error) {
	d.pos++ // {
	m := make(map[string]any)
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.unexpected()
		}
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, &duplicateKeyError{key: k}
		}
		if d.space(); d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.unexpected()
		}
		d.pos++
		d.space()
		v, err := d.value()
		if err != nil {
			return nil, within(err, func() string { return string(appendKey(nil, k)) })
		}
		m[k] = v
		d.space()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ',':
				d.pos++
				d.space()
				continue
			case '}':
				d.pos++
				return m, nil
			}
		}
		return nil, d.unexpected()
	}
}

func (d *decoder) array() (any, error) {
	d.pos++ // [
	start := len(d.items)
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return []any{}, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			i := len(d.items) - start
			return nil, within(err, func() string { return "[" + strconv.Itoa(i) + "]" })
		}
		d.items = append(d.items, v)
		d.space()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ',':
				d.pos++
				d.space()
				continue
			case ']':
				d.pos++
				a := make([]any, len(d.items)-start)
				copy(a, d.items[start:])
				clear(d.items[start:]) // keep no references for the next array
				d.items = d.items[:start]
				return a, nil
			}
		}
		return nil, d.unexpected()
	}
}

// number checks the JSON number grammar and keeps the literal.
func (d *decoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.digits() == 0:
		return nil, d.unexpected()
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.digits() == 0 {
			return nil, d.unexpected()
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.digits() == 0 {
			return nil, d.unexpected()
		}
	}
	return json.Number(d.data[start:d.pos]), nil
}

func (d *decoder) digits() int {
	n := 0
	for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
		d.pos++
		n++
	}
	return n
}

// string decodes a string at d.pos (its opening quote); strings without
// escapes are copied once.
func (d *decoder) string() (string, error) {
	start := d.pos + 1
	for i := start; i < len(d.data); i++ {
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return string(d.data[start:i]), nil
		case c == '\\':
			return d.escaped(start, i)
		case c < 0x20:
			d.pos = i
			return "", d.unexpected()
		}
	}
	d.pos = len(d.data)
	return "", d.unexpected()
}

// escaped decodes a string whose first escape is at i, as encoding/json
// does: an unpaired surrogate becomes U+FFFD.
func (d *decoder) escaped(start, i int) (string, error) {
	b := make([]byte, 0, len(d.data)-start)
	b = append(b, d.data[start:i]...)
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(b), nil
		case c < 0x20:
			d.pos = i
			return "", d.unexpected()
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			d.pos = len(d.data)
			return "", d.unexpected()
		}
		switch e := d.data[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(d.data[i+2:])
			if r < 0 {
				d.pos = i
				return "", d.unexpected()
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					if r2 := hex4(d.data[i+2:]); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							i += 6
							continue
						}
					}
				}
				r = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			d.pos = i
			return "", d.unexpected()
		}
		i += 2
	}
	d.pos = len(d.data)
	return "", d.unexpected()
}

// hex4 decodes the four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
