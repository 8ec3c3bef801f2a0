package test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func rateLimitPolicy(upstream string, requests int) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: limited, match: {pathPrefix: /limited}, to: backend, rateLimit: {requests: %d, interval: 1h, by: route}}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
`, requests, upstream)
}

// spray sends 200 GETs from 20 concurrent clients, spread over urls (two
// nodes, say), and counts the 200s and the 429s; any other status fails the
// test. check (may be nil) sees every response.
func spray(t *testing.T, urls []string, check func(*http.Response)) (allowed, limited int64) {
	t.Helper()
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		url := urls[i%len(urls)]
		wg.Go(func() {
			client := &http.Client{}
			for range 10 {
				resp, err := client.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if check != nil {
					check(resp)
				}
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load(), refused.Load()
}

// TestRateLimitIsExact: 200 requests from 20 concurrent clients against a
// limit of 50 admit exactly 50; every answer carries the RateLimit headers,
// refusals a Retry-After; a reload does not reset the counter.
func TestRateLimitIsExact(t *testing.T) {
	up, hits := echoUpstream(t)
	g := startGateway(t, rateLimitPolicy(up.URL, 50), "public")
	url := g.url("public") + "/limited/x"
	allowed, limited := spray(t, []string{url}, func(resp *http.Response) {
		for _, h := range []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%d answer without %s", resp.StatusCode, h)
			}
		}
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
	if allowed != 50 || limited != 150 || hits.Load() != 50 {
		t.Fatalf("allowed %d, limited %d, upstream saw %d; want 50, 150, 50", allowed, limited, hits.Load())
	}
	resp, body := get(t, url)
	assertProblem(t, resp, body, 429)
	if resp.Header.Get("RateLimit-Policy") != "50;w=3600" || resp.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("headers: %v", resp.Header)
	}
	// A reload (here: a real change) keeps the counters.
	g.reload(strings.Replace(rateLimitPolicy(up.URL, 50), "interval: 1h", "interval: 1h, burst: 0", 1))
	g.waitLog("policy reloaded", 1)
	if resp, _ := get(t, url); resp.StatusCode != 429 {
		t.Fatalf("a reload reset the rate limit: %d", resp.StatusCode)
	}
}

// TestSeedExampleRuns serves the brief's example as written, with its oauth2
// provider's issuer and JWKS pointed at a local fake identity provider and its
// Service at a local upstream: tokens are required, GET only, 100 a minute.
func TestSeedExampleRuns(t *testing.T) {
	seed, err := os.ReadFile("../examples/seed/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up, _ := echoUpstream(t)
	p := newIdP(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	p.publish(t, map[string]*rsa.PrivateKey{"k": key})
	policy := strings.NewReplacer(
		"https://idp.example.com/.well-known/jwks.json", p.srv.URL+"/jwks",
		"http://127.0.0.1:8080", up.URL,
	).Replace(string(seed))
	g := startGateway(t, policy, "listener-1")
	url := g.url("listener-1") + "/anything"
	tok := signed(t, key, "k", map[string]any{"iss": "https://idp.example.com/", "aud": "my-api", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	call := func(method, bearer string) int {
		req := mustRequest(t, method, url)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, _ := do(t, req)
		return resp.StatusCode
	}
	if s := call("GET", ""); s != 401 {
		t.Fatalf("no token: %d", s)
	}
	if s := call("POST", tok); s != 405 {
		t.Fatalf("POST: %d", s)
	}
	ok := 0
	for range 105 {
		if call("GET", tok) == 200 {
			ok++
		}
	}
	if ok != 100 {
		t.Fatalf("%d of 105 GETs allowed in well under a minute; want exactly 100", ok)
	}
}
