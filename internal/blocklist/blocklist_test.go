package blocklist

import (
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// t0 is a fixed request time: the tests never read the clock.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestBlockedIP(t *testing.T) {
	s := New([]Entry{
		{ID: "a", Kind: store.BlockIP, Value: "192.0.2.7", ExpiresAt: t0.Add(time.Minute)},
		{ID: "b", Kind: store.BlockIP, Value: "10.0.0.0/8", ExpiresAt: t0.Add(time.Hour)},
		{ID: "c", Kind: store.BlockIP, Value: "2001:db8::/32", ExpiresAt: t0.Add(time.Hour)},
		{ID: "d", Kind: store.BlockIP, Value: "2001:db9::1", ExpiresAt: t0.Add(time.Hour)},
		{ID: "e", Kind: store.BlockIP, Value: "198.51.100.0/24", ExpiresAt: t0}, // expired already
		{ID: "f", Kind: store.BlockIP, Value: "::ffff:203.0.113.0/120", ExpiresAt: t0.Add(time.Hour)},
		{ID: "g", Kind: store.BlockIP, Value: "not an address", ExpiresAt: t0.Add(time.Hour)},
	}, t0)
	if s.Len() != 5 {
		t.Errorf("Len = %d, want 5 (one expired, one unreadable)", s.Len())
	}
	for _, tc := range []struct {
		ip    string
		at    time.Time
		want  bool
		block string
	}{
		{"192.0.2.7", t0, true, "192.0.2.7/32"},
		{"::ffff:192.0.2.7", t0, true, "192.0.2.7/32"}, // a mapped address is the IPv4 client
		{"192.0.2.8", t0, false, ""},
		{"192.0.2.7", t0.Add(time.Minute - 1), true, "192.0.2.7/32"},
		{"192.0.2.7", t0.Add(time.Minute), false, ""}, // expired at request time
		{"10.200.3.4", t0, true, "10.0.0.0/8"},
		{"11.0.0.1", t0, false, ""},
		{"2001:db8:1::5", t0, true, "2001:db8::/32"},
		{"2001:db8::1%eth0", t0, true, "2001:db8::/32"},
		{"2001:db9::1", t0, true, "2001:db9::1/128"},
		{"2001:db9::2", t0, false, ""},
		{"198.51.100.1", t0, false, ""},
		{"203.0.113.99", t0, true, "203.0.113.0/24"},
		{"garbage", t0, false, ""},
	} {
		p, ok := s.BlockedIP(tc.ip, tc.at)
		if ok != tc.want || (ok && p.String() != tc.block) {
			t.Errorf("BlockedIP(%s, %v) = %v, %v; want %v by %s", tc.ip, tc.at.Sub(t0), p, ok, tc.want, tc.block)
		}
	}
}

func TestBlockedIdentities(t *testing.T) {
	s := New([]Entry{
		{ID: "a", Kind: store.BlockConsumer, Value: "mallory", ExpiresAt: t0.Add(time.Minute)},
		{ID: "b", Kind: store.BlockConsumer, Value: "mallory", ExpiresAt: t0.Add(time.Hour)}, // the later one speaks
		{ID: "c", Kind: store.BlockKey, Value: "key_1", ExpiresAt: t0.Add(time.Minute)},
		{ID: "d", Kind: "route", Value: "r", ExpiresAt: t0.Add(time.Hour)},
	}, t0)
	if s.HasIPs() || !s.HasIdentities() {
		t.Errorf("HasIPs %v, HasIdentities %v; want false, true", s.HasIPs(), s.HasIdentities())
	}
	for _, tc := range []struct {
		name      string
		got, want bool
	}{
		{"mallory now", s.BlockedConsumer("mallory", t0), true},
		{"mallory after the first block expired", s.BlockedConsumer("mallory", t0.Add(30*time.Minute)), true},
		{"mallory after both expired", s.BlockedConsumer("mallory", t0.Add(time.Hour)), false},
		{"alice", s.BlockedConsumer("alice", t0), false},
		{"anonymous", s.BlockedConsumer("", t0), false},
		{"key_1 now", s.BlockedKey("key_1", t0), true},
		{"key_1 expired", s.BlockedKey("key_1", t0.Add(time.Minute)), false},
		{"no key", s.BlockedKey("", t0), false},
		{"a key id is not a consumer", s.BlockedConsumer("key_1", t0), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestEmpty(t *testing.T) {
	var h Holder
	s := h.Load()
	if s.HasIPs() || s.HasIdentities() || s.Len() != 0 || s.BlockedConsumer("x", t0) || s.BlockedKey("x", t0) {
		t.Error("a nil Set blocks something")
	}
	if _, ok := s.BlockedIP("192.0.2.1", t0); ok {
		t.Error("a nil Set blocks an address")
	}
	h.Store(New([]Entry{{Kind: store.BlockKey, Value: "k", ExpiresAt: t0.Add(time.Second)}}, t0))
	if !h.Load().BlockedKey("k", t0) {
		t.Error("the stored Set is not the loaded one")
	}
	var nilHolder *Holder
	if nilHolder.Load() != nil {
		t.Error("a nil Holder holds a Set")
	}
}

func TestBlockedIPDoesNotAllocate(t *testing.T) {
	s := New(benchEntries(), t0)
	for _, ip := range []string{"10.1.2.3", "192.0.2.77", "2001:db8::1", "172.16.0.1"} {
		if n := testing.AllocsPerRun(100, func() { s.BlockedIP(ip, t0) }); n != 0 {
			t.Errorf("%s: %v allocations", ip, n)
		}
	}
}

// benchEntries is a list of the size an incident might leave: 200 single
// addresses, 20 networks of four lengths, 50 consumers and 50 keys.
func benchEntries() []Entry {
	var es []Entry
	exp := t0.Add(time.Hour)
	for i := range 200 {
		es = append(es, Entry{Kind: store.BlockIP, Value: "198.51." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250), ExpiresAt: exp})
	}
	for i := range 5 {
		es = append(es,
			Entry{Kind: store.BlockIP, Value: "10." + strconv.Itoa(i) + ".0.0/16", ExpiresAt: exp},
			Entry{Kind: store.BlockIP, Value: "192.0." + strconv.Itoa(i) + ".0/24", ExpiresAt: exp},
			Entry{Kind: store.BlockIP, Value: "2001:db8:" + strconv.Itoa(i) + "::/48", ExpiresAt: exp},
			Entry{Kind: store.BlockIP, Value: "2001:db9:" + strconv.Itoa(i) + "::/64", ExpiresAt: exp})
	}
	for i := range 50 {
		es = append(es, Entry{Kind: store.BlockConsumer, Value: "c" + strconv.Itoa(i), ExpiresAt: exp},
			Entry{Kind: store.BlockKey, Value: "key_" + strconv.Itoa(i), ExpiresAt: exp})
	}
	return es
}

// BenchmarkCheck is what a request pays for the blocks when some are in
// force and none applies to it: the address check before routing and the
// identity check after authentication.
func BenchmarkCheck(b *testing.B) {
	var h Holder
	h.Store(New(benchEntries(), t0))
	b.ReportAllocs()
	for b.Loop() {
		s := h.Load()
		if _, ok := s.BlockedIP("203.0.113.9", t0); ok {
			b.Fatal("blocked")
		}
		if s.BlockedConsumer("alice", t0) || s.BlockedKey("key_alice", t0) {
			b.Fatal("blocked")
		}
	}
}

// BenchmarkCheckEmpty is the cost when nothing is blocked: the common case.
func BenchmarkCheckEmpty(b *testing.B) {
	var h Holder
	h.Store(New(nil, t0))
	b.ReportAllocs()
	for b.Loop() {
		s := h.Load()
		if s.HasIPs() || s.HasIdentities() {
			b.Fatal("blocks")
		}
	}
}
