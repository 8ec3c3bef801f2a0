package jsonenc

import (
	"encoding/json"
	"testing"
	"time"
)

func TestStringIsValidJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x01\n\t\r\x7f", "<script>&", "é 🚪", "\xff\xfe", "a\xc3"} {
		b := String(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("String(%q) = %s: %v", s, b, err)
		}
	}
	if got := string(String(nil, "<a&b>")); got != `"\u003ca\u0026b\u003e"` {
		t.Errorf("HTML characters not escaped: %s", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("hello \"world\"\n")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(String(nil, s), &got); err != nil {
			t.Fatalf("String(%q) is not JSON: %v", s, err)
		}
	})
}

func TestObject(t *testing.T) {
	b := []byte{'{'}
	b = Field(b, "a")
	b = Int(b, -3)
	b = Field(b, "ms")
	b = Millis(b, 1500*time.Microsecond)
	b = Field(b, "t")
	b = Time(b, time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)))
	b = append(b, '}')
	if string(b) != `{"a":-3,"ms":1.5,"t":"2026-01-02T02:04:05.000000006Z"}` {
		t.Errorf("got %s", b)
	}
}
