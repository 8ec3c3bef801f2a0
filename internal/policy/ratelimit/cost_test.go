package ratelimit

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bothStores runs f on the in-memory store and on Redis with its clock
// pinned to the caller's now, so that both answer exactly alike.
func bothStores(t *testing.T, f func(t *testing.T, c Counter)) {
	t.Run("memory", func(t *testing.T) { f(t, NewStore(0)) })
	t.Run("redis", func(t *testing.T) {
		s := testRedis(t)
		s.pinned = true
		f(t, s)
	})
}

// expect checks a decision: allowed or not, and what the headers say.
func expect(t *testing.T, what string, r Result, err error, allowed bool, remaining int, reset, retry time.Duration) {
	t.Helper()
	if err != nil || r.Allowed != allowed || r.Remaining != remaining || r.Reset != reset || r.RetryAfter != retry {
		t.Fatalf("%s: %+v %v, want allowed %v, remaining %d, reset %v, retry after %v", what, r, err, allowed, remaining, reset, retry)
	}
}

func TestTakeN(t *testing.T) {
	bothStores(t, func(t *testing.T, c Counter) {
		ctx := context.Background()
		l := Limit{Requests: 10, Interval: 10 * time.Hour} // a cell an hour
		r, err := c.TakeN(ctx, "k", l, 4, t0)
		expect(t, "4 of 10", r, err, true, 6, 4*time.Hour, 0)
		r, err = c.TakeN(ctx, "k", l, 7, t0)
		expect(t, "7 more: refused whole", r, err, false, 6, 4*time.Hour, time.Hour)
		r, err = c.TakeN(ctx, "k", l, 6, t0)
		expect(t, "the 6 left", r, err, true, 0, 10*time.Hour, 0)
		r, err = c.TakeN(ctx, "k", l, 1, t0)
		expect(t, "one more", r, err, false, 0, 10*time.Hour, time.Hour)
		r, err = c.TakeN(ctx, "k", l, 3, t0.Add(3*time.Hour))
		expect(t, "3 refilled", r, err, true, 0, 10*time.Hour, 0)

		// More than the bucket never fits: Retry-After is a whole refill,
		// and the refusal counts nothing.
		r, err = c.TakeN(ctx, "big", l, 11, t0)
		expect(t, "11 of 10", r, err, false, 10, 0, 10*time.Hour)
		r, err = c.TakeN(ctx, "big", l, 10, t0)
		expect(t, "10 of 10", r, err, true, 0, 10*time.Hour, 0)

		// Zero (or less) takes nothing: a look.
		r, err = c.TakeN(ctx, "look", l, -3, t0)
		expect(t, "a negative cost", r, err, true, 10, 0, 0)

		burst := Limit{Requests: 2, Interval: 2 * time.Hour, Burst: 3}
		r, err = c.TakeN(ctx, "b", burst, 6, t0)
		expect(t, "6 of 2+3", r, err, false, 5, 0, 5*time.Hour)
		r, err = c.TakeN(ctx, "b", burst, 5, t0)
		expect(t, "5 of 2+3", r, err, true, 0, 5*time.Hour, 0)
	})
}

func TestAdjust(t *testing.T) {
	bothStores(t, func(t *testing.T, c Counter) {
		ctx := context.Background()
		l := Limit{Requests: 10, Interval: 10 * time.Hour}
		adjust := func(key string, delta int64, now time.Time) {
			t.Helper()
			if err := c.Adjust(ctx, key, l, delta, now); err != nil {
				t.Fatal(err)
			}
		}
		r, err := c.TakeN(ctx, "k", l, 8, t0)
		expect(t, "reserve 8", r, err, true, 2, 8*time.Hour, 0)
		adjust("k", -5, t0) // used 3
		r, err = c.TakeN(ctx, "k", l, 7, t0)
		expect(t, "a refund makes room", r, err, true, 0, 10*time.Hour, 0)
		adjust("k", 3, t0) // used 3 more than reserved: counted past the limit
		r, err = c.TakeN(ctx, "k", l, 0, t0)
		expect(t, "overshot", r, err, false, 0, 13*time.Hour, 3*time.Hour)
		r, err = c.TakeN(ctx, "k", l, 1, t0.Add(4*time.Hour))
		expect(t, "paid back", r, err, true, 0, 10*time.Hour, 0)

		// Returning more than was used banks no credit: the TAT stops at now.
		r, err = c.TakeN(ctx, "r", l, 2, t0)
		expect(t, "reserve 2", r, err, true, 8, 2*time.Hour, 0)
		adjust("r", -100, t0.Add(time.Hour))
		r, err = c.TakeN(ctx, "r", l, 11, t0.Add(time.Hour))
		expect(t, "after returning 100", r, err, false, 10, 0, 10*time.Hour)
		r, err = c.TakeN(ctx, "r", l, 10, t0.Add(time.Hour))
		expect(t, "the bucket, no more", r, err, true, 0, 10*time.Hour, 0)

		// A key that reserved nothing: a return does nothing, an addition counts.
		adjust("new", -4, t0)
		adjust("new", 4, t0)
		r, err = c.TakeN(ctx, "new", l, 7, t0)
		expect(t, "7 after 4 added", r, err, false, 6, 4*time.Hour, time.Hour)

		// Absurd amounts saturate rather than overflow (Redis keeps such a
		// TAT to a microsecond or so: exact to 104 days).
		adjust("huge", math.MaxInt64, t0)
		r, err = c.TakeN(ctx, "huge", l, 1, t0)
		if err != nil || r.Allowed || r.Reset < maxLead-time.Millisecond || r.Reset > maxLead {
			t.Fatalf("after MaxInt64: %+v %v, want refused for about %v", r, err, time.Duration(maxLead))
		}
		adjust("huge", math.MinInt64, t0)
		r, err = c.TakeN(ctx, "huge", l, 10, t0)
		expect(t, "after MinInt64", r, err, true, 0, 10*time.Hour, 0)
	})
}

// TestLargeLimitsAreExact: token limits whose emission is a fraction of a
// microsecond admit exactly the bucket at once, then exactly what the time
// refilled.
func TestLargeLimitsAreExact(t *testing.T) {
	limits := []Limit{
		{Requests: 1_000_000, Interval: time.Minute},  // 60 µs
		{Requests: 50_000_000, Interval: time.Minute}, // 1.2 µs
		{Requests: 7_000_000, Interval: time.Minute},  // 8571.43 ns, kept as 8571
		{Requests: 100_000, Interval: time.Second, Burst: 25_000},
	}
	bothStores(t, func(t *testing.T, c Counter) {
		for i, l := range limits {
			key := "large" + strconv.Itoa(i)
			rnd := rand.New(rand.NewPCG(1, uint64(i)))
			if got := fill(t, c, key, l, t0, rnd); got != l.size() {
				t.Errorf("%+v: %d admitted at once, want %d", l, got, l.size())
			}
			later := t0.Add(time.Millisecond)
			if got, want := fill(t, c, key, l, later, rnd), int64(time.Millisecond/l.emission()); got != want {
				t.Errorf("%+v: %d admitted a millisecond later, want %d", l, got, want)
			}
		}
	})
	// On Redis's own clock too: a quiet key's bucket is exactly its size.
	s := testRedis(t)
	l := limits[1]
	r, err := s.TakeN(context.Background(), "quiet", l, l.size(), time.Now())
	expect(t, "the whole bucket on Redis's clock", r, err, true, 0, time.Minute, 0)
}

// fill takes random costs for key at now until not one more cell fits, and
// returns how many it admitted.
func fill(t *testing.T, c Counter, key string, l Limit, now time.Time, rnd *rand.Rand) int64 {
	t.Helper()
	var total int64
	most := max(1, l.size()/7)
	for {
		n := 1 + rnd.Int64N(most)
		r, err := c.TakeN(context.Background(), key, l, n, now)
		switch {
		case err != nil:
			t.Fatal(err)
		case r.Allowed:
			total += n
		case n == 1:
			return total
		default:
			most = n - 1
		}
	}
}

// TestReserveUnderConcurrency: 20 goroutines reserving random costs (and
// settling them with random usage) admit exactly the limit, never more, in
// memory and in Redis.
func TestReserveUnderConcurrency(t *testing.T) {
	l := Limit{Requests: 1000, Interval: 100 * time.Hour} // a cell every 6 minutes: none refills during the test
	for _, settle := range []bool{false, true} {
		t.Run("settle="+strconv.FormatBool(settle), func(t *testing.T) {
			s := NewStore(0)
			drainLimit(t, []Counter{s}, l, settle, func() time.Time { return t0 })
			r := testRedis(t)
			drainLimit(t, []Counter{r}, l, settle, time.Now)
		})
	}
}

// TestRedisTwoNodes: two stores on one Redis (two gateway nodes), each
// reserving on one and settling on the other, never overshoot together.
func TestRedisTwoNodes(t *testing.T) {
	a := testRedis(t)
	b := NewRedisStore(testClient(t))
	b.prefix = a.prefix
	drainLimit(t, []Counter{a, b}, Limit{Requests: 1000, Interval: 100 * time.Hour}, true, time.Now)
}

// drainLimit drains l on one key through nodes and checks that exactly its
// bucket was used.
func drainLimit(t *testing.T, nodes []Counter, l Limit, settle bool, now func() time.Time) {
	t.Helper()
	ctx := context.Background()
	used := drain(t,
		func(i int, n int64) (Result, error) { return nodes[i%len(nodes)].TakeN(ctx, "shared", l, n, now()) },
		func(i int, delta int64) error { return nodes[(i+1)%len(nodes)].Adjust(ctx, "shared", l, delta, now()) },
		settle)
	if used != l.size() {
		t.Fatalf("%d cells used, want exactly %d", used, l.size())
	}
}

// drain has 20 goroutines (i is each one's number) reserve random amounts
// from 1 to 100 and, when settle is set, settle each with a random usage
// from none to all of it, until not one more unit fits; demand always
// exceeds what fits. It returns the units used in all.
func drain(t *testing.T, reserve func(i int, n int64) (Result, error), adjust func(i int, delta int64) error, settle bool) int64 {
	t.Helper()
	var used atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			most := int64(100)
			for {
				n := 1 + rnd.Int64N(most)
				r, err := reserve(i, n)
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case !r.Allowed && n == 1:
					return
				case !r.Allowed:
					most = n - 1
				case !settle:
					used.Add(n)
				default:
					u := rnd.Int64N(n + 1)
					if err := adjust(i, u-n); err != nil {
						t.Error(err)
						return
					}
					used.Add(u)
				}
			}
		})
	}
	wg.Wait()
	return used.Load()
}

// TestRedisReadsOlderTATs: a TAT in whole microseconds, as older versions
// kept it, counts on; the TAT is kept to the nanosecond.
func TestRedisReadsOlderTATs(t *testing.T) {
	s := testRedis(t)
	s.pinned = true
	ctx := context.Background()
	l := Limit{Requests: 10, Interval: 10 * time.Hour}
	if err := s.client.Set(ctx, s.prefix+"k", t0.Add(5*time.Hour).UnixMicro(), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := s.TakeN(ctx, "k", l, 1, t0)
	expect(t, "after 5 counted by an older version", r, err, true, 4, 6*time.Hour, 0)

	odd := Limit{Requests: 7_000_000, Interval: time.Minute} // 8571 ns
	if _, err := s.TakeN(ctx, "ns", odd, 3, t0); err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatInt(t0.UnixMicro()+25, 10) + ".713" // 3 × 8571 ns
	if got, err := s.client.Get(ctx, s.prefix+"ns").Result(); err != nil || got != want {
		t.Fatalf("stored TAT %q %v, want %q", got, err, want)
	}
}
