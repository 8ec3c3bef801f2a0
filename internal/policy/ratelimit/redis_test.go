package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis returns a RedisStore on the machine's Redis (see testClient),
// under a prefix of its own.
func testRedis(t *testing.T) *RedisStore {
	s := NewRedisStore(testClient(t))
	s.prefix = testPrefix()
	return s
}

// testClient connects to the machine's Redis (PORTCULLIS_TEST_REDIS, default
// redis://127.0.0.1:6379/0). In CI an unreachable Redis fails the test;
// elsewhere it skips.
func testClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("PORTCULLIS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Redis required in CI (PORTCULLIS_TEST_REDIS or %s): %v", url, err)
		}
		t.Skipf("Redis not reachable (set PORTCULLIS_TEST_REDIS): %v", err)
	}
	return client
}

// testPrefix is a key prefix no other test run uses.
func testPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "portcullis:test:" + hex.EncodeToString(b[:]) + ":"
}

func TestRedisExactUnderConcurrency(t *testing.T) {
	s := testRedis(t)
	l := Limit{Requests: 50, Interval: time.Hour}
	exactly50(t, func() (Result, error) { return s.Take(context.Background(), "shared", l, time.Now()) })
	r, _ := s.Take(context.Background(), "shared", l, time.Now())
	if r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > 73*time.Second {
		t.Fatalf("the 201st: %+v", r)
	}
}

func TestRedisRemaining(t *testing.T) {
	s := testRedis(t)
	l := Limit{Requests: 3, Interval: time.Minute, Burst: 1}
	for want := 3; want >= 0; want-- {
		r, err := s.Take(context.Background(), "k", l, time.Now())
		if err != nil || !r.Allowed || r.Remaining != want || r.Limit != 4 {
			t.Fatalf("want remaining %d: %+v %v", want, r, err)
		}
	}
}

func TestLimiterOnStoreFailure(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	down := NewRedisStore(client)
	l := Limit{Requests: 1, Interval: time.Hour}
	c := newCall("alice")
	if res, err := NewLimiter("r", l, "consumer", nil, false).Take(down, c, t0); err == nil || !res.Allowed {
		t.Errorf("onStoreFailure allow: %+v %v", res, err)
	}
	if res, err := NewLimiter("r", l, "consumer", nil, true).Take(down, c, t0); err == nil || res.Allowed {
		t.Errorf("onStoreFailure deny: %+v %v", res, err)
	}
}

// BenchmarkRedisTake is one cluster-wide decision: a script call to the
// machine's Redis over loopback (the latency it adds to a request).
func BenchmarkRedisTake(b *testing.B) {
	url := os.Getenv("PORTCULLIS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err != nil {
		b.Skipf("Redis not reachable: %v", err)
	}
	s := NewRedisStore(client)
	s.prefix = "portcullis:bench:"
	l := Limit{Requests: 1_000_000, Interval: time.Second}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Take(ctx, "k", l, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
