// Package ratelimit is the rate-limit step of a route's policy chain: GCRA
// (the generic cell rate algorithm), exact under any concurrency, with no
// window-edge double bursts. A key that has been quiet may send Requests+Burst
// at once, then one more every Interval/Requests.
//
// A limit's state is one number per key — its theoretical arrival time (TAT)
// — kept in a Store that outlives policy versions, so that a reload never
// resets a counter. A key whose TAT has passed is in the same state as an
// absent one, which is what makes eviction safe and memory bounded.
package ratelimit

import (
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

// emission is the time one request uses up (at least a nanosecond: a limit
// of more than a billion a second is as good as none).
func (l Limit) emission() time.Duration {
	return max(time.Nanosecond, l.Interval/time.Duration(max(1, l.Requests)))
}

// tolerance is how far ahead of now a key's TAT may run: Requests+Burst-1
// emissions, so that Requests+Burst arrive at once.
func (l Limit) tolerance() time.Duration {
	return l.emission() * time.Duration(l.Requests+l.Burst-1)
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

// take decides one request for key under l at now, and records it when allowed.
func (s *Store) take(key string, l Limit, now time.Time) Result {
	t := now.UnixNano()
	T := int64(l.emission())
	tau := int64(l.tolerance())
	sh := &s.shards[maphash.String(s.seed, key)&(shards-1)]

	sh.mu.Lock()
	tat, ok := sh.tats[key]
	if !ok || tat < t {
		tat = t
	}
	res := Result{Limit: l.Requests + l.Burst}
	if tat-t > tau {
		sh.mu.Unlock()
		res.RetryAfter = time.Duration(tat - t - tau)
		res.Reset = time.Duration(tat - t)
		return res
	}
	newTAT := tat + T
	if !ok && len(sh.tats) >= s.perShard {
		sh.evict(t, s.perShard)
	}
	sh.tats[key] = newTAT
	sh.mu.Unlock()

	res.Allowed = true
	res.Remaining = int((t + tau + T - newTAT) / T)
	res.Reset = time.Duration(newTAT - t)
	return res
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
