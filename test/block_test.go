package test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitStatus polls url until it answers want, and fails the test after
// within. It returns how long that took and the last answer.
func waitStatus(t *testing.T, url string, want int, within time.Duration, headers ...string) (time.Duration, *http.Response, []byte) {
	t.Helper()
	start := time.Now()
	for {
		resp, body := get(t, url, headers...)
		if resp.StatusCode == want {
			return time.Since(start), resp, body
		}
		if time.Since(start) > within {
			t.Fatalf("GET %s: still %d after %v, want %d: %s", url, resp.StatusCode, within, want, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// blockedInAccessLog reports whether the access log has a 403 with decision
// blocked for the request with that id.
func blockedInAccessLog(g *gateway, requestID string) bool {
	for _, rec := range g.accessLog() {
		if rec["requestId"] == requestID && rec["decision"] == "blocked" && rec["status"] == float64(403) {
			return true
		}
	}
	return false
}

// TestBlockIPWithCLI: `portcullis block --ip` refuses the client at once
// with 403 and decision blocked, before routing, and the block lifts by
// itself when its ttl runs out; `block list` shows a block and `block
// remove` lifts it early.
func TestBlockIPWithCLI(t *testing.T) {
	up, hits := echoUpstream(t)
	g := startGateway(t, policyFor(up.URL, "GET"), "public")
	env := []string{"PORTCULLIS_ADMIN_URL=http://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken}
	api := g.url("public") + "/api/x"
	waitStatus(t, api, 200, time.Second)

	// Usage errors: exit 2, nothing blocked.
	for _, args := range [][]string{
		{"block", "--ttl", "2s", "--reason", "r"},
		{"block", "--ip", "127.0.0.1", "--consumer", "bob", "--ttl", "2s", "--reason", "r"},
		{"block", "--ip", "127.0.0.1", "--reason", "r"},
		{"block", "--ip", "127.0.0.1", "--ttl", "2s"},
	} {
		if code, _, _ := runWith(t, env, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// Refused by the API: exit 1 with the reason.
	if code, _, errOut := runWith(t, env, "block", "--ip", "127.0.0.300", "--ttl", "2s", "--reason", "r"); code != 1 || !strings.Contains(errOut, "400") {
		t.Errorf("an invalid address: exit %d, %s", code, errOut)
	}

	code, out, errOut := runWith(t, env, "block", "--ip", "127.0.0.1", "--ttl", "2s", "--reason", "e2e: scanning")
	if code != 0 || !strings.HasPrefix(out, "block blk_") {
		t.Fatalf("block --ip: exit %d %q %s", code, out, errOut)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	took, resp, body := waitStatus(t, api, 403, time.Second)
	t.Logf("blocked %v after the CLI returned", took.Round(time.Millisecond))
	assertProblem(t, resp, body, 403)
	// A path no route matches is refused as blocked too: before routing.
	resp, body = get(t, g.url("public")+"/nowhere")
	assertProblem(t, resp, body, 403)
	hitsBefore := hits.Load()
	if resp, _ := get(t, api); resp.StatusCode != 403 || hits.Load() != hitsBefore {
		t.Errorf("a blocked request: %d, the upstream called %d times", resp.StatusCode, hits.Load()-hitsBefore)
	}
	_, list := g.adminDo("GET", "/admin/v1/blocks", nil, "")
	blocks, _ := list["blocks"].([]any)
	if len(blocks) != 1 || blocks[0].(map[string]any)["id"] != id || blocks[0].(map[string]any)["value"] != "127.0.0.1" {
		t.Fatalf("GET /admin/v1/blocks = %v; want %s", list, id)
	}
	expiresAt, err := time.Parse(time.RFC3339Nano, blocks[0].(map[string]any)["expiresAt"].(string))
	if err != nil {
		t.Fatal(err)
	}

	// Expiry: the block lifts by itself once its 2 s are up, not before.
	waitStatus(t, api, 200, 5*time.Second)
	if now := time.Now(); now.Before(expiresAt) {
		t.Errorf("the block lifted at %v, before it expires at %v", now, expiresAt)
	}
	if _, list := g.adminDo("GET", "/admin/v1/blocks", nil, ""); len(list["blocks"].([]any)) != 0 {
		t.Errorf("GET /admin/v1/blocks after expiry = %v", list)
	}
	time.Sleep(100 * time.Millisecond) // the access log is written off the request path
	if !blockedInAccessLog(g, resp.Header.Get("X-Request-Id")) {
		t.Errorf("the access log has no blocked 403 for %s", resp.Header.Get("X-Request-Id"))
	}

	// Remove: a long block lifted early; removing it again is fine; an
	// unknown id is refused.
	code, out, errOut = runWith(t, env, "block", "--ip", "127.0.0.0/8", "--ttl", "1h", "--reason", "e2e: remove")
	if code != 0 {
		t.Fatalf("block --ip: %s", errOut)
	}
	id = strings.TrimSuffix(strings.Fields(out)[1], ":")
	waitStatus(t, api, 403, time.Second)
	if code, out, _ := runWith(t, env, "block", "list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "127.0.0.0/8") || !strings.Contains(out, "e2e: remove") {
		t.Errorf("block list: exit %d\n%s", code, out)
	}
	if code, _, errOut := runWith(t, env, "block", "remove", id); code != 0 {
		t.Fatalf("block remove: %s", errOut)
	}
	waitStatus(t, api, 200, time.Second)
	if code, _, errOut := runWith(t, env, "block", "remove", "blk_unknown"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("removing an unknown block: exit %d %s", code, errOut)
	}
	logs := g.stderr.String() + g.stdout.String()
	if !strings.Contains(logs, `"msg":"block created"`) || !strings.Contains(logs, `"msg":"block removed"`) {
		t.Error("the log has no record of the blocks created and removed")
	}
}

// TestBlockConsumerAndKey: a blocked consumer and a blocked key are refused
// with 403 and decision blocked right after authentication, while other
// consumers' keys keep working.
func TestBlockConsumerAndKey(t *testing.T) {
	up, _ := echoUpstream(t)
	declared := "pck_declared-in-the-manifest"
	g := startGateway(t, apiKeyPolicy(up.URL, sha256Hex(declared)), "public")
	if resp, body := g.adminDo("POST", "/admin/v1/consumers", nil, `{"name": "alice", "roles": ["finance"]}`); resp.StatusCode != 201 {
		t.Fatalf("consumer: %d %v", resp.StatusCode, body)
	}
	resp, created := g.adminDo("POST", "/admin/v1/consumers/alice/keys", nil, `{}`)
	if resp.StatusCode != 201 {
		t.Fatalf("key: %d %v", resp.StatusCode, created)
	}
	key, keyID := created["key"].(string), created["id"].(string)
	orders := g.url("public") + "/orders/1"
	waitStatus(t, orders, 200, time.Second, "X-API-Key", key)

	block := func(body string) string {
		t.Helper()
		resp, out := g.adminDo("POST", "/admin/v1/blocks", nil, body)
		if resp.StatusCode != 201 || out["id"] == nil || out["expiresAt"] == nil {
			t.Fatalf("POST /admin/v1/blocks %s: %d %v", body, resp.StatusCode, out)
		}
		return out["id"].(string)
	}
	unblock := func(id string) {
		t.Helper()
		if resp, _ := g.adminDo("DELETE", "/admin/v1/blocks/"+id, nil, ""); resp.StatusCode != 204 {
			t.Fatalf("DELETE block %s: %d", id, resp.StatusCode)
		}
	}
	for _, tc := range []struct{ what, body string }{
		{"consumer", `{"consumer": "alice", "ttl": "1h", "reason": "e2e: consumer"}`},
		{"key", `{"keyId": "` + keyID + `", "ttl": "1h", "reason": "e2e: leaked key"}`},
	} {
		id := block(tc.body)
		_, resp, body := waitStatus(t, orders, 403, time.Second, "X-API-Key", key)
		assertProblem(t, resp, body, 403)
		// Another consumer's key on the same client is unaffected.
		if resp, body := get(t, g.url("public")+"/reports/q1?api_key="+declared); resp.StatusCode != 200 {
			t.Errorf("%s block: ci-bot's key refused: %d %s", tc.what, resp.StatusCode, body)
		}
		// Without a valid key the answer is still 401: blocks come after
		// authentication.
		if resp, _ := get(t, orders, "X-API-Key", "pck_wrong"); resp.StatusCode != 401 {
			t.Errorf("%s block: a wrong key got %d, want 401", tc.what, resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
		if !blockedInAccessLog(g, resp.Header.Get("X-Request-Id")) {
			t.Errorf("%s block: the access log has no blocked 403", tc.what)
		}
		unblock(id)
		waitStatus(t, orders, 200, time.Second, "X-API-Key", key)
	}
	if resp, out := g.adminDo("GET", "/admin/v1/blocks", nil, ""); resp.StatusCode != 200 || len(out["blocks"].([]any)) != 0 {
		t.Errorf("GET /admin/v1/blocks after removing both: %d %v", resp.StatusCode, out)
	}
}

// TestBlockReachesEveryNode: with two nodes on one PostgreSQL store, a block
// created on one is enforced by the other within a second, and so is its
// removal.
func TestBlockReachesEveryNode(t *testing.T) {
	dsn := freshDatabase(t)
	up, _ := echoUpstream(t)
	a := startGatewayOn(t, dsn, policyFor(up.URL, "GET"), "public")
	b := startGatewayOn(t, dsn, policyFor(up.URL, "GET"), "public")
	waitStatus(t, b.url("public")+"/api/x", 200, time.Second)

	start := time.Now()
	resp, out := a.adminDo("POST", "/admin/v1/blocks", nil, `{"ip": "127.0.0.1", "ttl": "1h", "reason": "e2e: cluster"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("block on node a: %d %v", resp.StatusCode, out)
	}
	took, _, _ := waitStatus(t, b.url("public")+"/api/x", 403, time.Second)
	t.Logf("node b enforced the block %v after it was created on node a (%v after the call returned)",
		time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))

	start = time.Now()
	if resp, _ := b.adminDo("DELETE", "/admin/v1/blocks/"+out["id"].(string), nil, ""); resp.StatusCode != 204 {
		t.Fatalf("remove on node b: %d", resp.StatusCode)
	}
	waitStatus(t, a.url("public")+"/api/x", 200, time.Second)
	t.Logf("node a lifted the block %v after it was removed on node b", time.Since(start).Round(time.Millisecond))
}
