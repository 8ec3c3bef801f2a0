package authn

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"
)

// TestKeySetMemory reports what 100,000 keys cost in memory once loaded (the
// issue's bound is 64 MB more than with none) and fails far above it.
func TestKeySetMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 keys")
	}
	roles := []string{"reader", "writer"}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set := make(KeySet, 100_000)
	for i := range 100_000 {
		set[sha256.Sum256(fmt.Appendf(nil, "pck_%d", i))] = Key{ID: fmt.Sprintf("key_%016x", i), Consumer: fmt.Sprintf("consumer-%d", i), Roles: roles}
	}
	var keys Keys
	keys.Replace(set)
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := after.HeapAlloc - before.HeapAlloc
	t.Logf("100,000 keys with their consumers: %.1f MB of heap (%d bytes a key)", float64(used)/(1<<20), used/100_000)
	if used > 64<<20 {
		t.Errorf("100,000 keys take %d MB, over the 64 MB bound", used>>20)
	}
	if keys.Len() != 100_000 {
		t.Fatal(keys.Len())
	}
}

// BenchmarkAPIKeyLookupTen is BenchmarkAPIKeyLookup with ten keys loaded: the
// cost per lookup must not depend on how many keys there are.
func BenchmarkAPIKeyLookupTen(b *testing.B) { benchmarkLookup(b, 10) }

func benchmarkLookup(b *testing.B, n int) {
	set := KeySet{}
	for i := range n {
		set[sha256.Sum256(fmt.Appendf(nil, "k%d", i))] = Key{ID: "k", Consumer: "c"}
	}
	set[sha256.Sum256([]byte("pck_the-key"))] = Key{ID: "k", Consumer: "alice"}
	var keys Keys
	keys.Replace(set)
	a := NewAPIKey(APIKeyConfig{Store: &keys})
	r := newKeyRequest("pck_the-key")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r, fixedNow); err != nil {
			b.Fatal(err)
		}
	}
}
