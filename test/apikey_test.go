package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func apiKeyPolicy(upstream, declaredHash string) string {
	return fmt.Sprintf(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: orders, match: {pathPrefix: /orders}, to: backend, authentication: {type: apiKey}}
    - name: reports
      match: {pathPrefix: /reports}
      to: backend
      authentication: {type: apiKey, provider: query-keys}
      authorization: {roles: [finance]}
---
apiVersion: gateway/v1
kind: AuthProvider
metadata: {name: query-keys}
spec: {type: apiKey, query: api_key}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
---
apiVersion: gateway/v1
kind: Consumer
metadata: {name: ci-bot}
spec:
  roles: [finance]
  apiKeys: [{id: ci-1, sha256: %s}]
`, upstream, declaredHash)
}

// TestAPIKeyLifecycle: a key created through the CLI is accepted, its
// consumer reaches the upstream as X-Consumer-Name while the key does not,
// a revoked key is refused at once, and roles gate a route.
func TestAPIKeyLifecycle(t *testing.T) {
	up, hits := echoUpstream(t)
	declared := "pck_declared-in-the-manifest"
	sum := sha256.Sum256([]byte(declared))
	g := startGateway(t, apiKeyPolicy(up.URL, hex.EncodeToString(sum[:])), "public")
	env := []string{"PORTCULLIS_ADMIN_URL=http://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken}
	orders := g.url("public") + "/orders/1"

	// No key, a wrong key: 401 with a challenge, and the upstream never called.
	for _, key := range []string{"", "pck_wrong"} {
		resp, body := get(t, orders, "X-API-Key", key)
		assertProblem(t, resp, body, 401)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "APIKey") {
			t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the upstream was called for unauthenticated requests")
	}

	if code, _, errOut := runWith(t, env, "consumer", "create", "alice", "--role", "reader"); code != 0 {
		t.Fatalf("consumer create: %s", errOut)
	}
	code, out, errOut := runWith(t, env, "key", "create", "--consumer", "alice")
	key := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(key, "pck_") || len(key) < 40 {
		t.Fatalf("key create: %d %q %s", code, out, errOut)
	}
	keyID := strings.Fields(errOut)[1]

	// The key works (at once: the store's change reloads the node's keys),
	// the identity reaches the upstream, the key and forged identity do not.
	var resp *http.Response
	var body []byte
	deadline := time.Now().Add(time.Second)
	for {
		resp, body = get(t, orders, "X-API-Key", key, "X-Consumer-Name", "admin", "X-Consumer-Roles", "root")
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("a fresh key: %d %s", resp.StatusCode, body)
	}
	h := http.Header(decodeEcho(t, body).Headers)
	if h.Get("X-Consumer-Name") != "alice" || h.Get("X-Consumer-Roles") != "reader" || len(h.Values("X-Consumer-Name")) != 1 {
		t.Errorf("identity upstream: %v", h)
	}
	if h.Get("X-Api-Key") != "" {
		t.Error("the API key was forwarded to the upstream")
	}

	// Roles: alice lacks finance (403); the declared ci-bot key has it,
	// sent as a query parameter that the upstream never sees.
	resp, body = get(t, g.url("public")+"/reports/q1?api_key="+key)
	assertProblem(t, resp, body, 403)
	resp, body = get(t, g.url("public")+"/reports/q1?api_key="+declared+"&year=2026")
	if resp.StatusCode != 200 {
		t.Fatalf("declared key with the role: %d %s", resp.StatusCode, body)
	}
	if e := decodeEcho(t, body); e.Query != "year=2026" || http.Header(e.Headers).Get("X-Consumer-Name") != "ci-bot" {
		t.Errorf("upstream saw query %q, consumer %q", e.Query, http.Header(e.Headers).Get("X-Consumer-Name"))
	}

	// Revoke: refused within a second.
	if code, _, errOut := runWith(t, env, "key", "revoke", keyID); code != 0 {
		t.Fatalf("key revoke: %s", errOut)
	}
	start := time.Now()
	for {
		resp, _ = get(t, orders, "X-API-Key", key)
		if resp.StatusCode == 401 {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("a revoked key still works a second later: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revoked key refused after %v", time.Since(start).Round(time.Millisecond))

	// The access log names the consumer, never the key.
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(g.stdout.String(), key) || strings.Contains(g.stderr.String(), key) {
		t.Error("a log carries the API key")
	}
	if !strings.Contains(g.stdout.String(), `"consumer":"alice"`) {
		t.Error("the access log does not name the consumer")
	}
}
