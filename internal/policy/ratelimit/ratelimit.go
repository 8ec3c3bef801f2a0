// Package ratelimit is the rate-limit step of a route's policy chain: GCRA
// (the generic cell rate algorithm), exact under any concurrency, with no
// window-edge double bursts. A key that has been quiet may send Requests+Burst
// at once, then one more every Interval/Requests.
//
// A request is one cell; a cost of n cells (an AI call's tokens) is admitted
// whole or not at all, and a reservation is settled afterwards with Adjust.
//
// A limit's state is one number per key — its theoretical arrival time (TAT)
// — kept in a Store that outlives policy versions, so that a reload never
// resets a counter. A key whose TAT has passed is in the same state as an
// absent one, which is what makes eviction safe and memory bounded.
package ratelimit

import (
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
)

// Limit is a GCRA limit.
type Limit struct {
	Requests int           // per Interval, in the long run
	Interval time.Duration // the window Requests are counted over
	Burst    int           // extra requests that may arrive at once
}

// emission is the time one cell uses up, in whole nanoseconds in both stores
// so that they agree: a bucket's size is exact, its refill rate off by less
// than a nanosecond a cell (at least a nanosecond: a limit of more than a
// billion a second is as good as none).
func (l Limit) emission() time.Duration {
	return max(time.Nanosecond, l.Interval/time.Duration(max(1, l.Requests)))
}

// size is how many cells arrive at once on a quiet key: Requests+Burst.
func (l Limit) size() int64 {
	return int64(l.Requests) + int64(l.Burst)
}

// capacity is how far past now a TAT may run after an admission: size
// emissions, in nanoseconds.
func (l Limit) capacity() int64 {
	return int64(l.emission()) * max(0, l.size())
}

// maxLead bounds how far past now a TAT may run (about 73 years), so that no
// cost or adjustment, however absurd, overflows a TAT in nanoseconds.
const maxLead = 1 << 61

// cost is n cells' worth of TAT in nanoseconds, within ±maxLead.
func (l Limit) cost(n int64) int64 {
	T := int64(l.emission())
	switch {
	case n > maxLead/T:
		return maxLead
	case n < -maxLead/T:
		return -maxLead
	}
	return n * T
}

// result renders a decision on n cells, after which the key's TAT leads now
// by lead nanoseconds. A cost larger than the bucket can never be admitted:
// its Retry-After is the time the whole bucket takes to refill, the longest
// any cost that fits would wait.
func (l Limit) result(n int64, allowed bool, lead int64) Result {
	T, full := int64(l.emission()), l.capacity()
	res := Result{Allowed: allowed, Limit: l.Requests + l.Burst, Remaining: int(max(0, (full-lead)/T)), Reset: time.Duration(lead)}
	switch {
	case allowed:
	case n > l.size():
		res.RetryAfter = time.Duration(full)
	default:
		res.RetryAfter = time.Duration(lead + n*T - full)
	}
	return res
}

// Counter counts cells for a key under a limit. Store (in memory, one node)
// and RedisStore (shared by a cluster) are the two.
type Counter interface {
	// TakeN admits n cells (n < 0 counts as 0) or, when they do not all
	// fit, refuses and counts nothing.
	TakeN(ctx context.Context, key string, l Limit, n int64, now time.Time) (Result, error)
	// Adjust settles a reservation made with TakeN: it adds delta cells
	// (more were used than reserved), counted even past the limit, or
	// returns -delta (fewer were), never refused. Returned cells make room
	// again but never move the TAT before now: they cannot bank credit.
	Adjust(ctx context.Context, key string, l Limit, delta int64, now time.Time) error
}

// Result is a decision and what the response headers say about it.
type Result struct {
	Allowed    bool
	Limit      int           // RateLimit-Limit: Requests+Burst
	Remaining  int           // RateLimit-Remaining
	Reset      time.Duration // RateLimit-Reset: until the key is as if unused
	RetryAfter time.Duration // Retry-After, when refused
	Policy     string        // RateLimit-Policy: "REQUESTS;w=SECONDS" (set by Limiter)
}

// Combine merges the results of two limits on one request (a rate limit and
// a quota) into what the headers say: the limit closer to running out (a
// refusal first, then the fewest remaining, then the longest reset) speaks
// for both, and RateLimit-Policy lists both.
func Combine(a, b Result) Result {
	t := a
	switch {
	case a.Allowed != b.Allowed:
		if !b.Allowed {
			t = b
		}
	case b.Remaining != a.Remaining:
		if b.Remaining < a.Remaining {
			t = b
		}
	case b.Reset > a.Reset:
		t = b
	}
	t.Policy = a.Policy + ", " + b.Policy
	return t
}

// PolicyHeader renders a limit as RateLimit-Policy's value.
func (l Limit) PolicyHeader() string {
	return strconv.Itoa(l.Requests) + ";w=" + strconv.FormatInt(int64(l.Interval.Round(time.Second)/time.Second), 10)
}

// shards spreads keys over locks; a power of two.
const shards = 64

// DefaultMaxKeys bounds a Store: about 100 bytes a key, so 1,000,000 keys
// take roughly 100 MB at most.
const DefaultMaxKeys = 1_000_000

// Store holds every key's TAT, sharded. It is safe for concurrent use.
type Store struct {
	seed     maphash.Seed
	perShard int
	shards   [shards]shard
}

type shard struct {
	mu   sync.Mutex
	tats map[string]int64 // key → TAT, Unix nanoseconds
}

// NewStore returns a store of at most maxKeys keys (DefaultMaxKeys when <= 0).
func NewStore(maxKeys int) *Store {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	s := &Store{seed: maphash.MakeSeed(), perShard: max(1, maxKeys/shards)}
	for i := range s.shards {
		s.shards[i].tats = map[string]int64{}
	}
	return s
}

// Take is TakeN of one cell.
func (s *Store) Take(ctx context.Context, key string, l Limit, now time.Time) (Result, error) {
	return s.TakeN(ctx, key, l, 1, now)
}

// TakeN implements Counter; it never fails.
func (s *Store) TakeN(_ context.Context, key string, l Limit, n int64, now time.Time) (Result, error) {
	return s.take(key, l, n, now), nil
}

// Adjust implements Counter; it never fails.
func (s *Store) Adjust(_ context.Context, key string, l Limit, delta int64, now time.Time) error {
	s.advance(key, now.UnixNano(), l.cost(delta), -1)
	return nil
}

func (s *Store) take(key string, l Limit, n int64, now time.Time) Result {
	n = max(0, n)
	allowed, lead := s.advance(key, now.UnixNano(), l.cost(n), l.capacity())
	return l.result(n, allowed, lead)
}

// advance moves key's TAT (t, the time now, when absent or passed) by cost
// nanoseconds, unless limit >= 0 and the TAT would then lead t by more than
// limit. The TAT never ends before t, and one that reaches t is forgotten
// (the same as absent). It returns whether it moved the TAT and the TAT's
// lead over t after. RedisStore's script is the same in Lua.
func (s *Store) advance(key string, t, cost, limit int64) (bool, int64) {
	sh := &s.shards[maphash.String(s.seed, key)&(shards-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	tat, ok := sh.tats[key]
	lead := max(0, tat-t)
	if limit >= 0 && lead+cost > limit {
		return false, lead
	}
	lead = min(max(0, lead+cost), maxLead)
	switch {
	case lead == 0:
		delete(sh.tats, key)
	case !ok && len(sh.tats) >= s.perShard:
		sh.evict(t, s.perShard)
		fallthrough
	default:
		sh.tats[key] = t + lead
	}
	return true, lead
}

// evict makes room in a full shard: every key whose TAT has passed goes (it
// is the same as absent); if none has, the key among a few sampled that is
// closest to idle goes, so that a flood of new keys cannot grow memory.
func (sh *shard) evict(now int64, limit int) {
	for k, tat := range sh.tats {
		if tat <= now {
			delete(sh.tats, k)
		}
	}
	if len(sh.tats) < limit {
		return
	}
	evictSampled(sh.tats, func(tat int64) int64 { return tat })
}

// evictSampled deletes, among a few keys of m (sampled by map order, which
// Go randomizes), the one whose score is lowest: bounded work, whatever the
// size of m.
func evictSampled[V any](m map[string]V, score func(V) int64) {
	var victim string
	lowest := int64(1<<63 - 1)
	n := 0
	for k, v := range m {
		if sc := score(v); sc < lowest {
			victim, lowest = k, sc
		}
		if n++; n == 8 {
			break
		}
	}
	delete(m, victim)
}

// Len is how many keys the store holds.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.tats)
		sh.mu.Unlock()
	}
	return n
}

// Sweep removes every key whose TAT has passed; run it now and then so idle
// keys do not linger until their shard fills.
func (s *Store) Sweep(now time.Time) {
	t := now.UnixNano()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, tat := range sh.tats {
			if tat <= t {
				delete(sh.tats, k)
			}
		}
		sh.mu.Unlock()
	}
}
