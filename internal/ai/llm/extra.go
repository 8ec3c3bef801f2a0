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
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	known := namesOf(reflect.TypeOf(v).Elem())
	for k := range all {
		if known[strings.ToLower(k)] {
			delete(all, k)
		}
	}
	*extra = nil
	if len(all) > 0 {
		*extra = all
	}
	return nil
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
