package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"
)

// Period is a calendar period in UTC that a quota counts over.
type Period string

// The periods a quota may count over.
const (
	Hour  Period = "hour"
	Day   Period = "day"
	Month Period = "month"
)

// bounds returns the start and the end of the period that holds now, in UTC.
func (p Period) bounds(now time.Time) (start, end time.Time) {
	u := now.UTC()
	switch p {
	case Hour:
		start = u.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case Day:
		start = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	default: // Month; config admits no other value
		start = time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	}
}

// Quota is a number of requests per calendar period, counted exactly: unlike
// a rate limit it does not refill gradually, it starts again at zero when the
// next period begins. Budgets count micro-dollars in it: int64 holds 9
// trillion dollars.
type Quota struct {
	Requests int64
	Period   Period
}

// result renders count (after the decision) for the period [start, end) at
// now: RateLimit-Policy's window is the period's length in seconds. A
// refusal's Retry-After is the period's end, even for an amount larger than
// the whole quota.
func (q Quota) result(allowed bool, count int64, start, end, now time.Time) Result {
	res := Result{
		Allowed:   allowed,
		Limit:     int(q.Requests),
		Remaining: int(max(0, q.Requests-count)),
		Reset:     end.Sub(now),
		Policy:    strconv.FormatInt(q.Requests, 10) + ";w=" + strconv.FormatInt(int64(end.Sub(start)/time.Second), 10),
	}
	if !allowed {
		res.RetryAfter = res.Reset
	}
	return res
}

// QuotaCounter counts amounts for a key against a quota. QuotaStore (in
// memory, saved to the policy store now and then) and RedisQuotaStore
// (shared by a cluster) are the two.
type QuotaCounter interface {
	// CountN adds n (n < 0 counts as 0) to key's counter for the period
	// holding now or, when the count would then pass the quota, refuses
	// and adds nothing.
	CountN(ctx context.Context, key string, q Quota, n int64, now time.Time) (Result, error)
	// AdjustCount settles a reservation made with CountN: it adds delta,
	// counted even past the quota, never refused; the count never goes
	// below zero.
	AdjustCount(ctx context.Context, key string, q Quota, delta int64, now time.Time) error
}

// QuotaStore keeps quota counters in memory, sharded like Store. Counts are
// exact on one node; they survive a restart through Unsaved (taken now and
// then and saved by the caller) and Load (at start).
type QuotaStore struct {
	seed     maphash.Seed
	perShard int
	shards   [shards]quotaShard
}

type quotaShard struct {
	mu     sync.Mutex
	counts map[string]*quotaCount
}

// quotaCount is one key's counter for one period.
type quotaCount struct {
	end     int64 // the period's end, Unix nanoseconds: after it the counter is garbage
	count   int64
	unsaved int64 // added since the last Unsaved; negative while more was returned
}

// SavedCount is a counter as the policy store keeps it: the key names the
// period too (see counterKey), End is when it may be forgotten.
type SavedCount struct {
	Key   string
	End   time.Time
	Count int64
}

// NewQuotaStore returns a store of at most maxKeys counters (DefaultMaxKeys
// when <= 0).
func NewQuotaStore(maxKeys int) *QuotaStore {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	s := &QuotaStore{seed: maphash.MakeSeed(), perShard: max(1, maxKeys/shards)}
	for i := range s.shards {
		s.shards[i].counts = map[string]*quotaCount{}
	}
	return s
}

// counterKey names key's counter for the period starting at start: a new
// period (or a quota switched to another kind of period) is a new counter.
func counterKey(key string, p Period, start time.Time) string {
	return key + "\x00" + string(p) + "\x00" + strconv.FormatInt(start.Unix(), 10)
}

func (s *QuotaStore) shard(key string) *quotaShard {
	return &s.shards[maphash.String(s.seed, key)&(shards-1)]
}

// Count is CountN of one.
func (s *QuotaStore) Count(ctx context.Context, key string, q Quota, now time.Time) (Result, error) {
	return s.CountN(ctx, key, q, 1, now)
}

// CountN implements QuotaCounter; it never fails.
func (s *QuotaStore) CountN(_ context.Context, key string, q Quota, n int64, now time.Time) (Result, error) {
	start, end := q.Period.bounds(now)
	added, count := s.count(counterKey(key, q.Period, start), end, max(0, n), max(0, q.Requests), now)
	return q.result(added, count, start, end, now), nil
}

// AdjustCount implements QuotaCounter; it never fails.
func (s *QuotaStore) AdjustCount(_ context.Context, key string, q Quota, delta int64, now time.Time) error {
	start, end := q.Period.bounds(now)
	s.count(counterKey(key, q.Period, start), end, delta, -1, now)
	return nil
}

// count adds n at now to the counter ck of a period ending at end, unless
// limit >= 0 and the count would then pass it; the count never goes below zero (nor
// overflows). It returns whether it added and the count after.
func (s *QuotaStore) count(ck string, end time.Time, n, limit int64, now time.Time) (bool, int64) {
	sh := s.shard(ck)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.counts[ck]
	var have int64
	if c != nil {
		have = c.count
	}
	if limit >= 0 && n > limit-have {
		return false, have
	}
	next := max(0, have+n)
	if n > math.MaxInt64-have {
		next = math.MaxInt64
	}
	if next == have {
		return true, have
	}
	if c == nil {
		if len(sh.counts) >= s.perShard {
			sh.evict(now.UnixNano())
		}
		c = &quotaCount{end: end.UnixNano()}
		sh.counts[ck] = c
	}
	c.unsaved += next - have
	c.count = next
	return true, next
}

// evict makes room in a full shard: every counter of a period that has ended
// goes; if none has, the smallest of a few sampled goes (its key starts
// again from zero: the one way a flood of new keys could make a quota
// lenient, and only past the store's bound).
func (sh *quotaShard) evict(now int64) {
	n := len(sh.counts)
	for k, c := range sh.counts {
		if c.end <= now {
			delete(sh.counts, k)
		}
	}
	if len(sh.counts) < n {
		return
	}
	evictSampled(sh.counts, func(c *quotaCount) int64 { return c.count })
}

// Unsaved takes what was counted since the last call, one SavedCount per
// counter that grew (Count is the net addition, not the total), and drops
// the counters of periods that ended before now. A counter whose net is a
// return (AdjustCount below what was saved) keeps it for the next call, to
// offset later additions: the policy store adds, and never takes back, so
// a node that stops before then restarts with the higher count.
func (s *QuotaStore) Unsaved(now time.Time) []SavedCount {
	t := now.UnixNano()
	var out []SavedCount
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, c := range sh.counts {
			if c.end <= t {
				delete(sh.counts, k)
				continue
			}
			if c.unsaved > 0 {
				out = append(out, SavedCount{Key: k, End: time.Unix(0, c.end).UTC(), Count: c.unsaved})
				c.unsaved = 0
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// Unsave puts back additions that Unsaved returned but could not be saved,
// so that the next Unsaved returns them again.
func (s *QuotaStore) Unsave(counts []SavedCount) {
	s.addSaved(counts, true)
}

// Load adds saved totals to the counters, at start before any request.
func (s *QuotaStore) Load(counts []SavedCount) {
	s.addSaved(counts, false)
}

func (s *QuotaStore) addSaved(counts []SavedCount, unsaved bool) {
	for _, sc := range counts {
		sh := s.shard(sc.Key)
		sh.mu.Lock()
		c := sh.counts[sc.Key]
		if c == nil {
			c = &quotaCount{end: sc.End.UnixNano()}
			sh.counts[sc.Key] = c
		}
		if unsaved {
			c.unsaved += sc.Count
		} else {
			c.count += sc.Count
		}
		sh.mu.Unlock()
	}
}
