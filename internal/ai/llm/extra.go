package llm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// knownNames caches, per struct type, the JSON member names its fields take.
var knownNames sync.Map // reflect.Type → map[string]bool

func namesOf(t reflect.Type) map[string]bool {
	if v, ok := knownNames.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[strings.ToLower(name)] = true
	}
	knownNames.Store(t, names)
	return names
}

// decodeExtra decodes the JSON object b into v (a pointer to a struct type
// without methods) and the members v does not name into *extra.
func decodeExtra(b []byte, v any, extra *map[string]json.RawMessage) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	*extra = nil
	known := namesOf(reflect.TypeOf(v).Elem())
	if !hasUnknown(b, known) {
		return nil // the common case: no second pass
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k := range all {
		if known[strings.ToLower(k)] {
			delete(all, k)
		}
	}
	if len(all) > 0 {
		*extra = all
	}
	return nil
}

// hasUnknown reports whether the JSON object b (already checked valid) has
// a member whose name is not in known (lowercase names). It reads the
// member names without decoding anything; a name with an escape, or
// anything unexpected, counts as unknown, which only costs the full pass.
func hasUnknown(b []byte, known map[string]bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return true
	}
	i++
	var lower [64]byte
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return true
		}
		switch b[i] {
		case '}':
			return false
		case ',':
			i++
			continue
		case '"':
		default:
			return true
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || j-i > len(lower) {
				return true
			}
			c := b[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[j-i-1] = c
			j++
		}
		if j >= len(b) || !known[string(lower[:j-i-1])] {
			return true
		}
		i = skipSpace(b, j+1)
		if i >= len(b) || b[i] != ':' {
			return true
		}
		if i = skipValue(b, i+1); i < 0 {
			return true
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index after the JSON value at b[i:] (valid JSON),
// or -1.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i < len(b) && (b[i] == ',' || b[i] == '}' || b[i] == ']') {
			return i
		}
	}
	if depth == 0 {
		return i
	}
	return -1
}

// encodeExtra encodes v (a struct type without methods) as a JSON object
// with the members of extra after its own, in name order; an extra member
// that v names itself is left out.
func encodeExtra(v any, extra map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	known := namesOf(reflect.TypeOf(v))
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1])
	empty := len(b) == 2
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range extra {
			if !yield(k) {
				return
			}
		}
	}) {
		if known[strings.ToLower(k)] {
			continue
		}
		if !empty {
			buf.WriteByte(',')
		}
		empty = false
		name, _ := json.Marshal(k)
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// The JSON methods of the types with Extra: each decodes and encodes
// through a method-less copy of itself.

func (r *ChatRequest) UnmarshalJSON(b []byte) error {
	type plain ChatRequest
	return decodeExtra(b, (*plain)(r), &r.Extra)
}

func (r ChatRequest) MarshalJSON() ([]byte, error) {
	type plain ChatRequest
	return encodeExtra(plain(r), r.Extra)
}

func (m *Message) UnmarshalJSON(b []byte) error {
	type plain Message
	return decodeExtra(b, (*plain)(m), &m.Extra)
}

func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message
	return encodeExtra(plain(m), m.Extra)
}

func (p *Part) UnmarshalJSON(b []byte) error {
	type plain Part
	return decodeExtra(b, (*plain)(p), &p.Extra)
}

func (p Part) MarshalJSON() ([]byte, error) {
	type plain Part
	return encodeExtra(plain(p), p.Extra)
}

func (r *ChatResponse) UnmarshalJSON(b []byte) error {
	type plain ChatResponse
	return decodeExtra(b, (*plain)(r), &r.Extra)
}

func (r ChatResponse) MarshalJSON() ([]byte, error) {
	type plain ChatResponse
	return encodeExtra(plain(r), r.Extra)
}

func (c *Choice) UnmarshalJSON(b []byte) error {
	type plain Choice
	return decodeExtra(b, (*plain)(c), &c.Extra)
}

func (c Choice) MarshalJSON() ([]byte, error) {
	type plain Choice
	return encodeExtra(plain(c), c.Extra)
}

func (c *ChatChunk) UnmarshalJSON(b []byte) error {
	type plain ChatChunk
	return decodeExtra(b, (*plain)(c), &c.Extra)
}

func (c ChatChunk) MarshalJSON() ([]byte, error) {
	type plain ChatChunk
	return encodeExtra(plain(c), c.Extra)
}

func (c *ChunkChoice) UnmarshalJSON(b []byte) error {
	type plain ChunkChoice
	return decodeExtra(b, (*plain)(c), &c.Extra)
}

func (c ChunkChoice) MarshalJSON() ([]byte, error) {
	type plain ChunkChoice
	return encodeExtra(plain(c), c.Extra)
}

func (d *Delta) UnmarshalJSON(b []byte) error {
	type plain Delta
	return decodeExtra(b, (*plain)(d), &d.Extra)
}

func (d Delta) MarshalJSON() ([]byte, error) {
	type plain Delta
	return encodeExtra(plain(d), d.Extra)
}

func (r *EmbeddingsRequest) UnmarshalJSON(b []byte) error {
	type plain EmbeddingsRequest
	return decodeExtra(b, (*plain)(r), &r.Extra)
}

func (r EmbeddingsRequest) MarshalJSON() ([]byte, error) {
	type plain EmbeddingsRequest
	return encodeExtra(plain(r), r.Extra)
}

func (r *EmbeddingsResponse) UnmarshalJSON(b []byte) error {
	type plain EmbeddingsResponse
	return decodeExtra(b, (*plain)(r), &r.Extra)
}

func (r EmbeddingsResponse) MarshalJSON() ([]byte, error) {
	type plain EmbeddingsResponse
	return encodeExtra(plain(r), r.Extra)
}

// Marshal is json.Marshal for the wire types with Extra, without the pass
// encoding/json makes over what a MarshalJSON method returns (to check and
// compact it): encodeExtra's output is compact already. A chat completion
// is encoded twice on its way through the gateway; this is its cost.
func Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case *ChatRequest:
		return v.MarshalJSON()
	case *ChatResponse:
		return v.MarshalJSON()
	case *ChatChunk:
		return v.MarshalJSON()
	case *EmbeddingsRequest:
		return v.MarshalJSON()
	case *EmbeddingsResponse:
		return v.MarshalJSON()
	}
	return json.Marshal(v)
}

// Unmarshal is json.Unmarshal for the wire types with Extra, without its
// validating pass over the whole input: decodeExtra decodes through
// json.Unmarshal, which validates it.
func Unmarshal(b []byte, v any) error {
	switch v := v.(type) {
	case *ChatRequest:
		return v.UnmarshalJSON(b)
	case *ChatResponse:
		return v.UnmarshalJSON(b)
	case *ChatChunk:
		return v.UnmarshalJSON(b)
	case *EmbeddingsRequest:
		return v.UnmarshalJSON(b)
	case *EmbeddingsResponse:
		return v.UnmarshalJSON(b)
	}
	return json.Unmarshal(b, v)
}
