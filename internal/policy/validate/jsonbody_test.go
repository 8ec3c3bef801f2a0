package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestJSONDepth(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{``, 0},
		{`1`, 0},
		{`[]`, 1},
		{`{"a":[1,{"b":[]}]}`, 4},
		{`["[[[[", "\"[[", "\\", {}]`, 2},
		{`"unterminated [[[`, 0},
		{`]]]][[`, 0},                 // malformed: the decoder refuses it
		{strings.Repeat("[", 100), 9}, // stops just past the limit
	} {
		if got := jsonDepth([]byte(c.in), 8); got != c.want {
			t.Errorf("jsonDepth(%.20q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// referenceDepth is jsonDepth by way of encoding/json's tokenizer, for a
// well-formed document.
func referenceDepth(data []byte) (int, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return deepest, nil
		}
		if err != nil {
			return 0, err
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// FuzzJSONDepth checks the byte scan against encoding/json on every
// well-formed document, and that it never fails on any input.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"]}"}]}`, `[[[]]]`, `"\\\""`, `{"\u005b":"\u005d"}`} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit < 1 || limit > 1000 {
			limit = 64
		}
		got := jsonDepth(data, limit)
		if !json.Valid(data) {
			return
		}
		want, err := referenceDepth(data)
		if err != nil {
			return // valid for json.Valid, but not a single value the tokenizer accepts
		}
		if want <= limit && got != want || want > limit && got <= limit {
			t.Fatalf("jsonDepth(%q, %d) = %d, encoding/json says %d", data, limit, got, want)
		}
	})
}

func TestDecodeJSON(t *testing.T) {
	for _, c := range []struct {
		in, err string
	}{
		{`{"a":1,"b":[true,false,null,"x\u00e9\ud83d\ude00"]}`, ""},
		{`{"a":1,"a":2}`, `body: duplicate key "a"`},
		{`{"items":[{"sku":"x"},{"sku":"y","sku":"z"}]}`, `body.items[1]: duplicate key "sku"`},
		{`{"odd key":{"\u0061":1,"a":2}}`, `body["odd key"]: duplicate key "a"`},
		{`[01]`, "body: malformed JSON: unexpected character at byte 2"},
		{`[1.]`, "body: malformed JSON: unexpected character at byte 3"},
		{`{"a" 1}`, "body: malformed JSON: unexpected character at byte 5"},
		{`"a` + "\x01" + `"`, "body: malformed JSON: unexpected character at byte 2"},
		{`"\x"`, "body: malformed JSON: unexpected character at byte 1"},
		{`[nul]`, "body: malformed JSON: unexpected character at byte 4"},
		{`[1,]`, "body: malformed JSON: unexpected character at byte 3"},
		{`{"a":[`, "body: malformed JSON: unexpected end at byte 6"},
	} {
		_, err := decodeJSON([]byte(c.in))
		got := ""
		if err != nil {
			got = bodyMessage(err)
		}
		if got != c.err {
			t.Errorf("decodeJSON(%q): got %q, want %q", c.in, got, c.err)
		}
	}
}

// FuzzDecodeJSON checks decodeJSON against encoding/json: the same values
// for what both accept, a refusal for what encoding/json refuses, and no
// other difference than duplicate keys.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{benchOrder, `{"a":[1,-0.5e+3,"\ud800x",{"b":null}]}`, `{"a":1,"a":2}`, `[1 2]`, `"\u00e9\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) || jsonDepth(data, 1000) > 1000 {
			return // refused before decoding
		}
		got, err := decodeJSON(data)
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var want any
		wantErr := d.Decode(&want)
		if wantErr == nil {
			if _, err := d.Token(); err != io.EOF {
				wantErr = errors.New("data after the value")
			}
		}
		var dup *duplicateKeyError
		switch {
		case wantErr != nil && err == nil:
			t.Fatalf("decodeJSON(%q) accepted what encoding/json refuses: %v", data, wantErr)
		case wantErr == nil && err != nil && !errors.As(err, &dup):
			t.Fatalf("decodeJSON(%q) refused what encoding/json accepts: %v", data, err)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("decodeJSON(%q) = %#v, encoding/json says %#v", data, got, want)
		}
	})
}
