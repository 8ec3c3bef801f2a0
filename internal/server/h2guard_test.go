package server

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// frame renders an HTTP/2 frame header and payload.
func frame(typ byte, stream uint32, payload []byte) []byte {
	b := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3] = typ
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// TestFrameCursor: frame headers are found however the bytes are split,
// and untilBoundary says how much finishes the frame under way.
func TestFrameCursor(t *testing.T) {
	stream := append(append(frame(frameHeaders, 1, []byte("abc")), frame(frameRSTStream, 1, make([]byte, 4))...), frame(0, 3, bytes.Repeat([]byte("x"), 20))...)
	for split := 1; split <= len(stream); split++ {
		var f frameCursor
		var seen []uint32
		for i := 0; i < len(stream); i += split {
			f.advance(stream[i:min(i+split, len(stream))], func(typ byte, id uint32) { seen = append(seen, uint32(typ)<<8|id) })
		}
		if !f.atBoundary() || len(seen) != 3 || seen[0] != frameHeaders<<8|1 || seen[1] != frameRSTStream<<8|1 || seen[2] != 3 {
			t.Fatalf("split %d: boundary %v, headers %x", split, f.atBoundary(), seen)
		}
	}
	var f frameCursor
	f.advance(stream[:5], nil) // half a header
	if n := f.untilBoundary(stream[5:]); n != frameHeaderLen-5+3 {
		t.Errorf("untilBoundary mid-header = %d, want %d", n, frameHeaderLen-5+3)
	}
	f.advance(stream[5:10], nil) // the header and 1 payload byte
	if n := f.untilBoundary(stream[10:]); n != 2 {
		t.Errorf("untilBoundary mid-payload = %d, want 2", n)
	}
}

// TestResetBudget: resets within the budget pass; the one over it is
// reported, and a new window starts the count again.
func TestResetBudget(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	c := &h2Conn{prefaceLeft: len(clientPreface), now: func() time.Time { return now }}
	if c.observe([]byte(clientPreface)) {
		t.Fatal("the preface")
	}
	rst := frame(frameRSTStream, 1, make([]byte, 4))
	for i := range resetBudget {
		if c.observe(rst) {
			t.Fatalf("reset %d of %d reported", i+1, resetBudget)
		}
	}
	now = now.Add(resetWindow + time.Second)
	if c.observe(rst) {
		t.Fatal("the first reset of a new window reported")
	}
	for range resetBudget - 1 {
		c.observe(rst)
	}
	if !c.observe(rst) {
		t.Error("the reset over the budget was not reported")
	}
}

// FuzzFrameCursor: whatever a client sends, however it is split into
// reads, the cursor never panics and finds the same frame headers.
func FuzzFrameCursor(f *testing.F) {
	f.Add(append(frame(frameHeaders, 1, []byte("abc")), frame(frameRSTStream, 1, make([]byte, 4))...), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0x3, 0, 0, 0, 0, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		var whole, parts frameCursor
		var a, b []uint32
		whole.advance(data, func(typ byte, id uint32) { a = append(a, uint32(typ)<<24|id&0xffffff) })
		step := int(split) + 1
		for i := 0; i < len(data); i += step {
			parts.advance(data[i:min(i+step, len(data))], func(typ byte, id uint32) { b = append(b, uint32(typ)<<24|id&0xffffff) })
		}
		if whole != parts || len(a) != len(b) {
			t.Fatalf("split reads differ: %v vs %v", a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("header %d: %x vs %x", i, a[i], b[i])
			}
		}
		if n := whole.untilBoundary(data); n < 0 || n > len(data) {
			t.Fatalf("untilBoundary = %d of %d", n, len(data))
		}
	})
}
