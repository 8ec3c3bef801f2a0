package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is Store.advance in one atomic Redis round trip, on Redis's
// own clock (TIME), so that every gateway node counts against the same
// time. ARGV: the cost and the limit (-1: never refused), in nanoseconds as
// Store.advance takes them, and only from tests a pinned now in
// microseconds. It returns {moved, the TAT's lead over now after, in
// nanoseconds}.
//
// Lua numbers are doubles, exact to 2^53: absolute nanoseconds are not, so
// the script works on the lead (exact up to 104 days), and the TAT is kept
// as microseconds with three decimals ("1780000000123456.789"), exact to the
// nanosecond. Older versions kept whole microseconds, and read this as a
// number (to a quarter microsecond): a rolling upgrade keeps counting.
var gcraScript = redis.NewScript(`
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local lead = 0
local v = redis.call('GET', KEYS[1])
if v then
  local us, ns = string.match(v, '^(%d+)%.(%d%d%d)$')
  if us then
    lead = (tonumber(us) - now) * 1000 + tonumber(ns)
  else
    lead = math.floor((tonumber(v) - now) * 1000)
  end
  if lead < 0 then lead = 0 end
end
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and lead + cost > limit then
  return {0, lead}
end
lead = math.min(math.max(0, lead + cost), 2^61)
if lead == 0 then
  redis.call('DEL', KEYS[1])
  return {1, 0}
end
local us = math.floor(lead / 1000)
redis.call('SET', KEYS[1], string.format('%.0f.%03d', now + us, lead - us * 1000), 'PX', math.ceil(lead / 1000000) + 1000)
return {1, lead}
`)

// RedisStore keeps the counters in Redis, shared by every node using it.
type RedisStore struct {
	client *redis.Client
	prefix string
	// pinned has the script take the caller's now, to the microsecond,
	// instead of Redis's clock: for tests, which then get exact times.
	pinned bool
}

// NewRedisStore uses client; keys are prefixed "portcullis:rl:".
func NewRedisStore(client *redis.Client) *RedisStore {
	return &RedisStore{client: client, prefix: "portcullis:rl:"}
}

// Take is TakeN of one cell.
func (s *RedisStore) Take(ctx context.Context, key string, l Limit, now time.Time) (Result, error) {
	return s.TakeN(ctx, key, l, 1, now)
}

// TakeN implements Counter with one script call.
func (s *RedisStore) TakeN(ctx context.Context, key string, l Limit, n int64, now time.Time) (Result, error) {
	n = max(0, n)
	allowed, lead, err := s.advance(ctx, key, l.cost(n), l.capacity(), now)
	if err != nil {
		return Result{}, err
	}
	return l.result(n, allowed, lead), nil
}

// Adjust implements Counter with one script call.
func (s *RedisStore) Adjust(ctx context.Context, key string, l Limit, delta int64, now time.Time) error {
	_, _, err := s.advance(ctx, key, l.cost(delta), -1, now)
	return err
}

// advance runs gcraScript: Store.advance in Redis.
func (s *RedisStore) advance(ctx context.Context, key string, cost, limit int64, now time.Time) (bool, int64, error) {
	args := []any{cost, limit}
	if s.pinned {
		args = append(args, now.UnixMicro())
	}
	vals, err := runScript(ctx, s.client, gcraScript, s.prefix+key, 2, args...)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit store: %w", err)
	}
	return vals[0] == 1, vals[1], nil
}

// quotaScript is QuotaStore.count in one atomic round trip. ARGV: the
// amount, the quota (-1: never refused), and when a new counter expires (an
// hour after its period ends, so that nodes whose clocks differ a little
// still find it). It returns {added, the count after}. Counts are exact to
// 2^53 (Lua's doubles): 9 billion dollars in micro-dollars.
var quotaScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local n = tonumber(v or '0')
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit >= 0 and n + amount > limit then
  return {0, n}
end
if amount < -n then amount = -n end
if amount == 0 then
  return {1, n}
end
n = redis.call('INCRBY', KEYS[1], string.format('%.0f', amount))
if not v then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return {1, n}
`)

// RedisQuotaStore keeps quota counters in Redis, shared by every node using
// it. The period is taken from the node's clock (months are not Lua's
// strength); nodes whose clocks differ count a request near a period's
// boundary in the period their own clock says.
type RedisQuotaStore struct {
	client *redis.Client
	prefix string
}

// NewRedisQuotaStore uses client; keys are prefixed "portcullis:q:".
func NewRedisQuotaStore(client *redis.Client) *RedisQuotaStore {
	return &RedisQuotaStore{client: client, prefix: "portcullis:q:"}
}

// Count is CountN of one.
func (s *RedisQuotaStore) Count(ctx context.Context, key string, q Quota, now time.Time) (Result, error) {
	return s.CountN(ctx, key, q, 1, now)
}

// CountN implements QuotaCounter with one script call.
func (s *RedisQuotaStore) CountN(ctx context.Context, key string, q Quota, n int64, now time.Time) (Result, error) {
	start, end := q.Period.bounds(now)
	added, count, err := s.count(ctx, counterKey(key, q.Period, start), end, max(0, n), max(0, q.Requests))
	if err != nil {
		return Result{}, err
	}
	return q.result(added, count, start, end, now), nil
}

// AdjustCount implements QuotaCounter with one script call.
func (s *RedisQuotaStore) AdjustCount(ctx context.Context, key string, q Quota, delta int64, now time.Time) error {
	start, end := q.Period.bounds(now)
	_, _, err := s.count(ctx, counterKey(key, q.Period, start), end, delta, -1)
	return err
}

// count runs quotaScript on the counter ck of a period ending at end:
// QuotaStore.count in Redis.
func (s *RedisQuotaStore) count(ctx context.Context, ck string, end time.Time, n, limit int64) (bool, int64, error) {
	vals, err := runScript(ctx, s.client, quotaScript, s.prefix+ck, 2, n, limit, end.Add(time.Hour).UnixMilli())
	if err != nil {
		return false, 0, fmt.Errorf("quota store: %w", err)
	}
	return vals[0] == 1, vals[1], nil
}

// runScript runs one of our scripts on key and checks that it answered n
// integers.
func runScript(ctx context.Context, client *redis.Client, script *redis.Script, key string, n int, args ...any) ([]int64, error) {
	vals, err := script.Run(ctx, client, []string{key}, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	if len(vals) != n {
		return nil, fmt.Errorf("unexpected answer %v", vals)
	}
	return vals, nil
}
