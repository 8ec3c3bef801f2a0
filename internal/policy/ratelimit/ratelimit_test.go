package ratelimit

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestGCRA(t *testing.T) {
	s := NewStore(0)
	l := Limit{Requests: 10, Interval: 10 * time.Second} // one per second
	for i := range 10 {
		r := s.take("k", l, 1, t0)
		if !r.Allowed || r.Remaining != 9-i || r.Limit != 10 || l.PolicyHeader() != "10;w=10" {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	r := s.take("k", l, 1, t0)
	if r.Allowed || r.RetryAfter != time.Second || r.Reset != 10*time.Second {
		t.Fatalf("the 11th at once: %+v", r)
	}
	// One more every second; no double burst at any edge.
	if r := s.take("k", l, 1, t0.Add(999*time.Millisecond)); r.Allowed {
		t.Fatalf("before the emission interval: %+v", r)
	}
	if r := s.take("k", l, 1, t0.Add(time.Second)); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("after one emission interval: %+v", r)
	}
	// Quiet for the whole window: the full allowance again.
	if r := s.take("k", l, 1, t0.Add(21*time.Second)); !r.Allowed || r.Remaining != 9 {
		t.Fatalf("after a quiet window: %+v", r)
	}
}

func TestBurst(t *testing.T) {
	s := NewStore(0)
	l := Limit{Requests: 2, Interval: time.Minute, Burst: 3}
	n := 0
	for s.take("k", l, 1, t0).Allowed {
		n++
	}
	if n != 5 {
		t.Fatalf("%d at once, want requests+burst = 5", n)
	}
	if r := s.take("k", l, 1, t0); r.RetryAfter != 30*time.Second {
		t.Fatalf("Retry-After %v, want one emission (30s)", r.RetryAfter)
	}
}

// TestExactUnderConcurrency: 200 requests from 20 goroutines against a limit
// of 50 admit exactly 50.
func TestExactUnderConcurrency(t *testing.T) {
	s := NewStore(0)
	l := Limit{Requests: 50, Interval: time.Hour}
	exactly50(t, func() (Result, error) { return s.take("shared", l, 1, t0), nil })
}

// TestMemoryIsBounded: a flood of distinct keys never holds more than the bound.
func TestMemoryIsBounded(t *testing.T) {
	s := NewStore(shards * 10)
	l := Limit{Requests: 1, Interval: time.Hour}
	for i := range 10_000 {
		s.take(string(rune(i))+"-key", l, 1, t0)
	}
	if n := s.Len(); n > shards*10 {
		t.Fatalf("%d keys held, bound %d", n, shards*10)
	}
	s.Sweep(t0.Add(2 * time.Hour))
	if n := s.Len(); n != 0 {
		t.Fatalf("%d keys after a sweep past every TAT", n)
	}
}

func TestLimiterKeys(t *testing.T) {
	call := func(consumer, ip, tenant string) *policy.Call {
		r := httptest.NewRequest("GET", "/", nil)
		if tenant != "" {
			r.Header.Set("X-Tenant", tenant)
		}
		return &policy.Call{Request: r, ClientIP: ip, Identity: policy.Identity{Consumer: consumer}}
	}
	cases := []struct {
		by   string
		c    *policy.Call
		want string
	}{
		{"consumer", call("alice", "1.1.1.1", ""), "r\x00c:alice"},
		{"consumer", call("", "1.1.1.1", ""), "r\x00ip:1.1.1.1"},
		{"ip", call("alice", "1.1.1.1", ""), "r\x00ip:1.1.1.1"},
		{"route", call("alice", "1.1.1.1", ""), "r"},
		{"header:X-Tenant", call("", "1.1.1.1", "acme"), "r\x00h:acme"},
		{"header:X-Tenant", call("", "1.1.1.1", ""), "r\x00ip:1.1.1.1"},
	}
	for _, c := range cases {
		if got := newKeyer("r", c.by).key(c.c); got != c.want {
			t.Errorf("by %s: key %q, want %q", c.by, got, c.want)
		}
	}
	// A consumer override applies to that consumer only.
	s := NewStore(0)
	lim := NewLimiter("r", Limit{Requests: 1, Interval: time.Hour}, "consumer", map[string]Limit{"vip": {Requests: 3, Interval: time.Hour}}, false)
	n := 0
	for take(lim, s, call("vip", "", "")) {
		n++
	}
	if n != 3 {
		t.Fatalf("override: %d allowed", n)
	}
}

func BenchmarkTake(b *testing.B) {
	s := NewStore(0)
	l := Limit{Requests: 1_000_000, Interval: time.Second}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.take("route\x00c:alice", l, 1, now)
	}
}

func take(l *Limiter, s *Store, c *policy.Call) bool {
	res, err := l.Take(s, c, t0)
	return err == nil && res.Allowed
}

func newCall(consumer string) *policy.Call {
	return &policy.Call{Request: httptest.NewRequest("GET", "/", nil), ClientIP: "192.0.2.1", Identity: policy.Identity{Consumer: consumer}}
}
