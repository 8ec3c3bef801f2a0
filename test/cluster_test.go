package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDSN is the machine's PostgreSQL; PORTCULLIS_TEST_POSTGRES overrides it.
func postgresDSN() string {
	if dsn := os.Getenv("PORTCULLIS_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshDatabase creates a database for one test and drops it afterwards. In
// CI an unreachable PostgreSQL fails the test; elsewhere it skips.
func freshDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, postgresDSN())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL required in CI (PORTCULLIS_TEST_POSTGRES or %s): %v", postgresDSN(), err)
		}
		t.Skipf("PostgreSQL not reachable (set PORTCULLIS_TEST_POSTGRES): %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "portcullis_e2e_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		_ = admin.Close(ctx)
	})
	return strings.Replace(postgresDSN(), "/test?", "/"+name+"?", 1)
}

// servedVersion is the policy version a node serves, from its /readyz.
func (g *gateway) servedVersion() float64 {
	resp, err := http.Get("http://" + g.admin + "/readyz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct {
		Version float64 `json:"version"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return r.Version
}

// TestTwoNodesConverge runs two gateways on one PostgreSQL store: the first
// bootstraps it from its file, the second serves what the store holds, and an
// apply on the first is served by the second within a second.
func TestTwoNodesConverge(t *testing.T) {
	dsn := freshDatabase(t)
	up, _ := echoUpstream(t)
	a := startGatewayOn(t, dsn, policyFor(up.URL, "GET"), "public")
	// The second node's file differs: with a shared store it is not read.
	b := startGatewayOn(t, dsn, policyFor(up.URL, "GET, POST, DELETE"), "public")
	if va, vb := a.servedVersion(), b.servedVersion(); va != 1 || vb != 1 {
		t.Fatalf("versions served at start: a=%v b=%v", va, vb)
	}
	post := func(g *gateway) int {
		resp, _ := do(t, mustRequest(t, "POST", g.url("public")+"/api/x"))
		return resp.StatusCode
	}
	if post(b) != 405 {
		t.Fatal("node b serves its own file instead of the shared store")
	}

	start := time.Now()
	if resp, body := a.applyPolicy(policyFor(up.URL, "GET, POST"), "allow POST everywhere", "?allowWeakening=true"); resp.StatusCode != 201 {
		t.Fatalf("apply on a: %d %v", resp.StatusCode, body)
	}
	for b.servedVersion() != 2 {
		if time.Since(start) > time.Second {
			t.Fatalf("node b still serves version %v a second after the apply on node a", b.servedVersion())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("node b served version 2 %v after the apply on node a", time.Since(start).Round(time.Millisecond))
	if post(b) != 200 || post(a) != 200 {
		t.Fatal("version 2's behaviour is not served on both nodes")
	}
	// A rollback through node b reaches node a the same way.
	if resp, body := b.adminDo("POST", "/admin/v1/policy/rollback", nil, `{"version": 1, "reason": "back"}`); resp.StatusCode != 201 {
		t.Fatalf("rollback on b: %d %v", resp.StatusCode, body)
	}
	deadline := time.Now().Add(time.Second)
	for a.servedVersion() != 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a.servedVersion() != 3 || post(a) != 405 {
		t.Fatalf("node a after the rollback on b: version %v", a.servedVersion())
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestKeyRevocationReachesEveryNode: a key created on one node works on the
// other, and revoking it on the first is refused by the second within a second.
func TestKeyRevocationReachesEveryNode(t *testing.T) {
	dsn := freshDatabase(t)
	up, _ := echoUpstream(t)
	policy := apiKeyPolicy(up.URL, strings.Repeat("ab", 32))
	a := startGatewayOn(t, dsn, policy, "public")
	b := startGatewayOn(t, dsn, policy, "public")
	if resp, body := a.adminDo("POST", "/admin/v1/consumers", nil, `{"name": "alice"}`); resp.StatusCode != 201 {
		t.Fatalf("consumer: %d %v", resp.StatusCode, body)
	}
	resp, created := a.adminDo("POST", "/admin/v1/consumers/alice/keys", nil, `{}`)
	if resp.StatusCode != 201 {
		t.Fatalf("key: %d %v", resp.StatusCode, created)
	}
	key, id := created["key"].(string), created["id"].(string)
	status := func(g *gateway) int {
		resp, _ := get(t, g.url("public")+"/orders/1", "X-API-Key", key)
		return resp.StatusCode
	}
	waitFor := func(what string, g *gateway, want int) time.Duration {
		start := time.Now()
		for status(g) != want {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: still %d after a second", what, status(g))
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	took := waitFor("a key created on node a, used on node b", b, 200)
	t.Logf("node b accepted the new key after %v", took.Round(time.Millisecond))
	if resp, _ := a.adminDo("DELETE", "/admin/v1/keys/"+id, nil, ""); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	took = waitFor("a key revoked on node a, used on node b", b, 401)
	t.Logf("node b refused the revoked key after %v", took.Round(time.Millisecond))
}
