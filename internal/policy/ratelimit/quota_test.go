package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestPeriodBounds(t *testing.T) {
	cases := []struct {
		p          Period
		now        time.Time
		start, end string
	}{
		{Hour, time.Date(2026, 11, 28, 23, 59, 59, 999, time.UTC), "2026-11-28T23:00:00Z", "2026-11-29T00:00:00Z"},
		{Day, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Month, time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC), "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Month, time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		// Periods are UTC whatever the time's zone: 01:00 in UTC+2 is the day before.
		{Day, time.Date(2026, 6, 2, 1, 0, 0, 0, time.FixedZone("UTC+2", 7200)), "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"},
	}
	for _, c := range cases {
		start, end := c.p.bounds(c.now)
		if start.Format(time.RFC3339) != c.start || end.Format(time.RFC3339) != c.end {
			t.Errorf("%s of %v: [%v, %v), want [%s, %s)", c.p, c.now, start, end, c.start, c.end)
		}
	}
}

func TestQuotaCountsPerPeriod(t *testing.T) {
	s := NewQuotaStore(0)
	q := Quota{Requests: 3, Period: Day}
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	for want := 2; want >= 0; want-- {
		r, _ := s.Count(context.Background(), "k", q, now)
		if !r.Allowed || r.Remaining != want || r.Limit != 3 || r.Policy != "3;w=86400" || r.Reset != 6*time.Hour {
			t.Fatalf("want remaining %d: %+v", want, r)
		}
	}
	r, _ := s.Count(context.Background(), "k", q, now.Add(time.Hour))
	if r.Allowed || r.Remaining != 0 || r.RetryAfter != 5*time.Hour {
		t.Fatalf("the 4th in the day: %+v", r)
	}
	// Unlike GCRA, nothing comes back before the period ends...
	if r, _ := s.Count(context.Background(), "k", q, now.Add(6*time.Hour-time.Nanosecond)); r.Allowed {
		t.Fatalf("the last instant of the day: %+v", r)
	}
	// ...and all of it at once when the next one begins.
	if r, _ := s.Count(context.Background(), "k", q, now.Add(6*time.Hour)); !r.Allowed || r.Remaining != 2 || r.Reset != 24*time.Hour {
		t.Fatalf("the next day: %+v", r)
	}
	// Another key has its own counter.
	if r, _ := s.Count(context.Background(), "other", q, now); !r.Allowed {
		t.Fatalf("another key: %+v", r)
	}
}

// TestQuotaExactUnderConcurrency: 200 requests from 20 goroutines against a
// quota of 50 admit exactly 50.
func TestQuotaExactUnderConcurrency(t *testing.T) {
	quotaOf50(t, NewQuotaStore(0))
}

func TestRedisQuotaExactUnderConcurrency(t *testing.T) {
	s := NewRedisQuotaStore(testClient(t))
	s.prefix = testPrefix()
	quotaOf50(t, s)
}

// exactly50 takes 200 decisions from 20 goroutines and checks that exactly
// 50 were allowed.
func exactly50(t *testing.T, take func() (Result, error)) {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				r, err := take()
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 50 {
		t.Fatalf("%d allowed, want exactly 50", allowed.Load())
	}
}

// quotaOf50 checks that s admits exactly 50 of 200 concurrent requests
// against a quota of 50, and refuses the next.
func quotaOf50(t *testing.T, s QuotaCounter) {
	q := Quota{Requests: 50, Period: Month}
	exactly50(t, func() (Result, error) { return s.CountN(context.Background(), "shared", q, 1, time.Now()) })
	if r, _ := s.CountN(context.Background(), "shared", q, 1, time.Now()); r.Allowed || r.Remaining != 0 || r.RetryAfter <= 0 {
		t.Fatalf("the 201st: %+v", r)
	}
}

// TestRedisQuotaExpires: a counter lives until an hour past its period's end.
func TestRedisQuotaExpires(t *testing.T) {
	client := testClient(t)
	s := NewRedisQuotaStore(client)
	s.prefix = testPrefix()
	now := time.Now()
	if _, err := s.Count(context.Background(), "k", Quota{Requests: 5, Period: Hour}, now); err != nil {
		t.Fatal(err)
	}
	start, end := Hour.bounds(now)
	ttl, err := client.PTTL(context.Background(), s.prefix+counterKey("k", Hour, start)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := end.Add(time.Hour).Sub(now); ttl <= 0 || ttl > want+time.Second || ttl < want-5*time.Second {
		t.Fatalf("TTL %v, want about %v", ttl, want)
	}
}

// TestQuotaSaveAndLoad: what Unsaved returns, loaded into a new store (a
// restarted node), continues the count; what could not be saved comes back.
func TestQuotaSaveAndLoad(t *testing.T) {
	q := Quota{Requests: 10, Period: Month}
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	a := NewQuotaStore(0)
	for range 4 {
		a.Count(context.Background(), "k", q, now)
	}
	first := a.Unsaved(now)
	if len(first) != 1 || first[0].Count != 4 || !first[0].End.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Unsaved = %+v", first)
	}
	if again := a.Unsaved(now); len(again) != 0 {
		t.Fatalf("Unsaved twice: %+v", again)
	}
	a.Count(context.Background(), "k", q, now)
	second := a.Unsaved(now)
	a.Unsave(second) // the save failed
	if retry := a.Unsaved(now); len(retry) != 1 || retry[0].Count != 1 {
		t.Fatalf("after a failed save: %+v", retry)
	}

	b := NewQuotaStore(0)
	b.Load([]SavedCount{{Key: first[0].Key, End: first[0].End, Count: 5}})
	r, _ := b.Count(context.Background(), "k", q, now)
	if !r.Allowed || r.Remaining != 4 {
		t.Fatalf("after a restart: %+v, want the count continued (6 of 10)", r)
	}
	// Counters of ended periods are dropped, not saved.
	if got := b.Unsaved(now.AddDate(0, 1, 0)); len(got) != 0 {
		t.Fatalf("a month later: %+v", got)
	}
}

func TestQuotaMemoryIsBounded(t *testing.T) {
	s := NewQuotaStore(shards * 10)
	q := Quota{Requests: 5, Period: Hour}
	for i := range 10_000 {
		s.Count(context.Background(), string(rune(i))+"-key", q, t0)
	}
	n := 0
	for i := range s.shards {
		n += len(s.shards[i].counts)
	}
	if n > shards*10 {
		t.Fatalf("%d counters held, bound %d", n, shards*10)
	}
}

func TestQuotaLimiterOnStoreFailure(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	down := NewRedisQuotaStore(client)
	q := Quota{Requests: 1, Period: Day}
	c := newCall("alice")
	if res, err := NewQuotaLimiter("r", q, "consumer", false).Take(down, c, t0); err == nil || !res.Allowed {
		t.Errorf("onStoreFailure allow: %+v %v", res, err)
	}
	if res, err := NewQuotaLimiter("r", q, "consumer", true).Take(down, c, t0); err == nil || res.Allowed || res.RetryAfter != time.Second {
		t.Errorf("onStoreFailure deny: %+v %v", res, err)
	}
}

func TestCombine(t *testing.T) {
	rate := Result{Allowed: true, Limit: 100, Remaining: 99, Reset: time.Second, Policy: "100;w=60"}
	quota := Result{Allowed: true, Limit: 1000, Remaining: 5, Reset: time.Hour, Policy: "1000;w=86400"}
	if got := Combine(rate, quota); got.Remaining != 5 || got.Limit != 1000 || got.Policy != "100;w=60, 1000;w=86400" {
		t.Errorf("the quota closer to running out: %+v", got)
	}
	refused := Result{Limit: 1000, Reset: time.Hour, RetryAfter: time.Hour, Policy: "1000;w=86400"}
	if got := Combine(rate, refused); got.Allowed || got.RetryAfter != time.Hour {
		t.Errorf("a refusal speaks: %+v", got)
	}
	tie := Result{Allowed: true, Limit: 1000, Remaining: 99, Reset: time.Hour, Policy: "1000;w=86400"}
	if got := Combine(rate, tie); got.Reset != time.Hour {
		t.Errorf("a tie goes to the longer reset: %+v", got)
	}
}

func BenchmarkQuotaCount(b *testing.B) {
	s := NewQuotaStore(0)
	q := Quota{Requests: 1 << 62, Period: Month}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Count(context.Background(), "route\x00c:alice", q, now)
	}
}

// bothQuotaStores runs f on the in-memory quota store and on Redis.
func bothQuotaStores(t *testing.T, f func(t *testing.T, c QuotaCounter)) {
	t.Run("memory", func(t *testing.T) { f(t, NewQuotaStore(0)) })
	t.Run("redis", func(t *testing.T) {
		s := NewRedisQuotaStore(testClient(t))
		s.prefix = testPrefix()
		f(t, s)
	})
}

func TestCountN(t *testing.T) {
	bothQuotaStores(t, func(t *testing.T, c QuotaCounter) {
		ctx := context.Background()
		q := Quota{Requests: 50_000_000, Period: Day} // $50 a day, in micro-dollars
		now := time.Now()                             // Redis expires counters of past periods
		count := func(what, key string, n int64, allowed bool, remaining int) {
			t.Helper()
			r, err := c.CountN(ctx, key, q, n, now)
			if err != nil || r.Allowed != allowed || r.Remaining != remaining || r.Limit != 50_000_000 || (r.RetryAfter > 0) == allowed {
				t.Fatalf("%s: %+v %v, want allowed %v, remaining %d", what, r, err, allowed, remaining)
			}
		}
		adjust := func(key string, delta int64) {
			t.Helper()
			if err := c.AdjustCount(ctx, key, q, delta, now); err != nil {
				t.Fatal(err)
			}
		}
		count("$30", "k", 30_000_000, true, 20_000_000)
		count("$25 more: refused whole", "k", 25_000_000, false, 20_000_000)
		count("the $20 left", "k", 20_000_000, true, 0)
		adjust("k", -5_000_000) // the call cost $5 less than reserved
		count("a refund makes room", "k", 5_000_000, true, 0)
		adjust("k", 3_000_000) // and this one $3 more: counted past the budget
		count("overshot", "k", 0, false, 0)
		adjust("k", -4_000_000)
		count("the $1 left", "k", 1_000_000, true, 0)
		count("not a micro-dollar more", "k", 1, false, 0)
		adjust("k", -100_000_000) // the count stops at zero
		count("more than the budget", "k", 50_000_001, false, 50_000_000)
		count("the whole budget", "k", 50_000_000, true, 0)
		adjust("new", -5) // nothing to return: nothing happens
		count("a new key", "new", 50_000_000, true, 0)
		count("a negative amount", "neg", -3, true, 50_000_000)
	})
}

// TestQuotaReserveUnderConcurrency: 20 goroutines reserving random amounts
// (and settling them) use exactly the quota, in memory and across two nodes
// sharing Redis.
func TestQuotaReserveUnderConcurrency(t *testing.T) {
	q := Quota{Requests: 1000, Period: Month}
	now := time.Now() // one period for the whole test
	for _, settle := range []bool{false, true} {
		t.Run("settle="+strconv.FormatBool(settle), func(t *testing.T) {
			drainQuota(t, []QuotaCounter{NewQuotaStore(0)}, q, settle, now)
			a, b := NewRedisQuotaStore(testClient(t)), NewRedisQuotaStore(testClient(t))
			a.prefix = testPrefix()
			b.prefix = a.prefix
			drainQuota(t, []QuotaCounter{a, b}, q, settle, now)
		})
	}
}

// drainQuota drains q on one key through nodes (reserving on one, settling
// on the next) and checks that exactly the quota was used.
func drainQuota(t *testing.T, nodes []QuotaCounter, q Quota, settle bool, now time.Time) {
	t.Helper()
	ctx := context.Background()
	used := drain(t,
		func(i int, n int64) (Result, error) { return nodes[i%len(nodes)].CountN(ctx, "shared", q, n, now) },
		func(i int, delta int64) error {
			return nodes[(i+1)%len(nodes)].AdjustCount(ctx, "shared", q, delta, now)
		},
		settle)
	if used != q.Requests {
		t.Fatalf("%d used, want exactly %d", used, q.Requests)
	}
}

// TestQuotaSaveAmounts: amounts and adjustments reach the policy store as
// net additions; a net return waits to offset later additions (the store
// only adds).
func TestQuotaSaveAmounts(t *testing.T) {
	ctx := context.Background()
	q := Quota{Requests: 50_000_000, Period: Month}
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	a := NewQuotaStore(0)
	unsaved := func(want int64) []SavedCount {
		t.Helper()
		got := a.Unsaved(now)
		if want == 0 && len(got) != 0 || want != 0 && (len(got) != 1 || got[0].Count != want) {
			t.Fatalf("Unsaved = %+v, want %d", got, want)
		}
		return got
	}
	a.CountN(ctx, "k", q, 30_000_000, now)
	saved := unsaved(30_000_000)
	a.AdjustCount(ctx, "k", q, -10_000_000, now)
	unsaved(0)
	a.CountN(ctx, "k", q, 4_000_000, now)
	unsaved(0)
	a.CountN(ctx, "k", q, 16_000_000, now)
	saved[0].Count += unsaved(10_000_000)[0].Count
	a.AdjustCount(ctx, "k", q, 5_000_000, now)
	saved[0].Count += unsaved(5_000_000)[0].Count

	b := NewQuotaStore(0) // a restart
	b.Load(saved)
	if r, _ := b.CountN(ctx, "k", q, 5_000_001, now); r.Allowed || r.Remaining != 5_000_000 {
		t.Fatalf("after a restart: %+v, want $45 of $50 counted", r)
	}
}
