package test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// quotaPolicy has a route with a quota of requests a day, counted for the
// whole route, behind a generous rate limit.
func quotaPolicy(upstream string, requests int) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - name: metered
      match: {pathPrefix: /metered}
      to: backend
      rateLimit: {requests: 1000, interval: 1m, by: route}
      quota: {requests: %d, period: day, by: route}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
`, requests, upstream)
}

// TestQuotaIsExact: 200 requests from 20 concurrent clients against a daily
// quota of 50 admit exactly 50; a refusal says when the day ends; the
// headers speak for the limit closer to running out and list both.
func TestQuotaIsExact(t *testing.T) {
	up, hits := echoUpstream(t)
	g := startGateway(t, quotaPolicy(up.URL, 50), "public")
	url := g.url("public") + "/metered/x"
	allowed, limited := spray(t, []string{url}, nil)
	if allowed != 50 || limited != 150 || hits.Load() != 50 {
		t.Fatalf("allowed %d, limited %d, upstream saw %d; want 50, 150, 50", allowed, limited, hits.Load())
	}
	resp, body := get(t, url)
	assertProblem(t, resp, body, 429)
	now := time.Now().UTC()
	untilMidnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC).Sub(now)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if d := time.Duration(retry) * time.Second; d < untilMidnight-time.Minute || d > untilMidnight+time.Minute {
		t.Errorf("Retry-After %ds, want the end of the UTC day (%v)", retry, untilMidnight)
	}
	if p := resp.Header.Get("RateLimit-Policy"); p != "1000;w=60, 50;w=86400" {
		t.Errorf("RateLimit-Policy %q", p)
	}
	if r := resp.Header.Get("RateLimit-Limit"); r != "50" {
		t.Errorf("RateLimit-Limit %q: the quota is the limit that ran out", r)
	}
}

// TestQuotaSurvivesRestart: the count goes on across a clean restart and
// across a crash (kill -9) once the counters were saved (every second).
func TestQuotaSurvivesRestart(t *testing.T) {
	up, _ := echoUpstream(t)
	dbPath := filepath.Join(t.TempDir(), "portcullis.db")
	storeURL := "sqlite:" + dbPath
	policy := quotaPolicy(up.URL, 10)
	served := func(g *gateway, n int) int {
		ok := 0
		for range n {
			if resp, _ := get(t, g.url("public")+"/metered/x"); resp.StatusCode == 200 {
				ok++
			}
		}
		return ok
	}

	g := startGatewayOn(t, storeURL, policy, "public")
	if ok := served(g, 3); ok != 3 {
		t.Fatalf("first run: %d of 3", ok)
	}
	g.stop() // SIGTERM: saves every count

	g = startGatewayOn(t, storeURL, policy, "public")
	if ok := served(g, 4); ok != 4 {
		t.Fatalf("after a clean restart: %d of 4 (7 of 10 used)", ok)
	}
	waitSaved(t, dbPath, 7)
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	g.waitExit(10 * time.Second)

	g = startGatewayOn(t, storeURL, policy, "public")
	if ok := served(g, 5); ok != 3 {
		t.Fatalf("after a crash: %d served, want the 3 left of 10", ok)
	}
}

// waitSaved waits until the store at path holds a count of want.
func waitSaved(t *testing.T, path string, want int64) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		counts, err := s.QuotaCounts(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) == 1 && counts[0].Count == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("saved counts %+v, want one of %d", counts, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterQuotaIsExact: two nodes sharing the test's Redis admit exactly
// the quota between them.
func TestClusterQuotaIsExact(t *testing.T) {
	redisURL, _ := redisServer(t, 0)
	up, hits := echoUpstream(t)
	policy := quotaPolicy(up.URL, 50)
	a := startGatewayWith(t, "", []string{"--redis", redisURL}, policy, "public")
	b := startGatewayWith(t, "", []string{"--redis", redisURL}, policy, "public")
	allowed, limited := spray(t, []string{a.url("public") + "/metered/x", b.url("public") + "/metered/x"}, nil)
	if allowed != 50 || limited != 150 || hits.Load() != 50 {
		t.Fatalf("two nodes admitted %d (limited %d, upstream %d); want exactly 50", allowed, limited, hits.Load())
	}
}
