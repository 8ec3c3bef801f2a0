package detect

import "testing"

func TestWindowSlides(t *testing.T) {
	var w window
	for slot := int64(100); slot < 100+windowBuckets; slot++ {
		if got := w.add(slot); got != uint32(slot-99) {
			t.Fatalf("add(%d) = %d, want %d", slot, got, slot-99)
		}
	}
	// The next slot pushes out the oldest bucket; a jump of a whole window empties it.
	if got := w.add(100 + windowBuckets); got != windowBuckets {
		t.Errorf("after one slot: %d, want %d", got, windowBuckets)
	}
	if got := w.count(100 + windowBuckets + 5); got != windowBuckets-5 {
		t.Errorf("after five more: %d, want %d", got, windowBuckets-5)
	}
	if got := w.count(100 + 3*windowBuckets); got != 0 {
		t.Errorf("after a whole window: %d, want 0", got)
	}
	w.add(500)
	w.add(500)
	w.reset()
	if got := w.add(501); got != 1 {
		t.Errorf("after reset: %d, want 1", got)
	}
}

func TestDistinctCapsAndExpires(t *testing.T) {
	var d distinct
	const window = 60
	for i := range uint64(5) {
		if got := d.add(i, int64(i), window, 3); got != min(int(i)+1, 3) {
			t.Fatalf("add(%d) = %d", i, got)
		}
	}
	if cap(d.items) != 3 {
		t.Errorf("capacity %d, want 3", cap(d.items))
	}
	// Value 0 seen at 0 expires at 60; 1 and 2 remain; a repeat refreshes.
	if got := d.add(1, 60, window, 3); got != 2 {
		t.Errorf("after expiry: %d, want 2", got)
	}
	if got := d.add(9, 110, window, 3); got != 2 { // 2 (seen at 2) expired, 1 (seen at 60) kept, 9 added
		t.Errorf("after refresh: %d, want 2", got)
	}
}

func TestHashStringIsFNV1a(t *testing.T) {
	if got := hashString(""); got != 14695981039346656037 {
		t.Errorf("hash of empty = %d", got)
	}
	if hashString("/a") == hashString("/b") {
		t.Error("different strings, same hash")
	}
}
