package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counter decides one request for a key under a limit. Store (in memory,
// one node) and RedisStore (shared by a cluster) are the two.
type Counter interface {
	Take(ctx context.Context, key string, l Limit, now time.Time) (Result, error)
}

// Take implements Counter for the in-memory store; it never fails.
func (s *Store) Take(_ context.Context, key string, l Limit, now time.Time) (Result, error) {
	return s.take(key, l, now), nil
}

// gcraScript is GCRA in one atomic Redis round trip, on Redis's own clock
// (TIME), so that every gateway node counts against the same time. Times
// are microseconds. It returns {allowed, tat - now after the decision, and
// for a refusal the wait until the next request would be allowed}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now, tat - now - tolerance}
end
local new = tat + emission
redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000) + 1000)
return {1, new - now, 0}
`)

// RedisStore keeps the counters in Redis, shared by every node using it.
type RedisStore struct {
	client *redis.Client
	prefix string
}

// NewRedisStore uses client; keys are prefixed "portcullis:rl:".
func NewRedisStore(client *redis.Client) *RedisStore {
	return &RedisStore{client: client, prefix: "portcullis:rl:"}
}

// Take implements Counter with one script call.
func (s *RedisStore) Take(ctx context.Context, key string, l Limit, _ time.Time) (Result, error) {
	emission := l.emission().Microseconds()
	tolerance := l.tolerance().Microseconds()
	if emission < 1 {
		emission = 1
	}
	vals, err := runScript(ctx, s.client, gcraScript, s.prefix+key, 3, emission, tolerance)
	if err != nil {
		return Result{}, fmt.Errorf("rate limit store: %w", err)
	}
	res := Result{Limit: l.Requests + l.Burst, Reset: time.Duration(vals[1]) * time.Microsecond}
	if vals[0] == 1 {
		res.Allowed = true
		res.Remaining = int((tolerance + emission - vals[1]) / emission)
	} else {
		res.RetryAfter = time.Duration(vals[2]) * time.Microsecond
	}
	return res, nil
}

// quotaScript counts one request against a quota in one atomic round trip:
// it refuses, adding nothing, when the counter has reached the limit. A new
// counter expires an hour after its period ends, so that nodes whose clocks
// differ a little still find it.
var quotaScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return {0, n}
end
n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
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

// Count implements QuotaCounter with one script call.
func (s *RedisQuotaStore) Count(ctx context.Context, key string, q Quota, now time.Time) (Result, error) {
	start, end := q.Period.bounds(now)
	expireAt := end.Add(time.Hour).UnixMilli()
	vals, err := runScript(ctx, s.client, quotaScript, s.prefix+counterKey(key, q.Period, start), 2, q.Requests, expireAt)
	if err != nil {
		return Result{}, fmt.Errorf("quota store: %w", err)
	}
	return q.result(vals[0] == 1, vals[1], start, end, now), nil
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
