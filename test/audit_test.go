package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/adminclient"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// auditKey is the API key declared in apiKeyPolicy for these tests.
const auditKey = "pck_declared-in-the-manifest"

func auditPolicy(upstream string) string {
	sum := sha256.Sum256([]byte(auditKey))
	return apiKeyPolicy(upstream, hex.EncodeToString(sum[:]))
}

// auditPage is GET /admin/v1/audit's answer.
type auditPage struct {
	Records []adminclient.AuditRecord `json:"records"`
	Next    string                    `json:"next"`
}

// waitAudit polls GET /admin/v1/audit?query until it lists want records.
func (g *gateway) waitAudit(query string, want int) []adminclient.AuditRecord {
	g.t.Helper()
	recs := g.waitAuditAtLeast(query, want)
	if len(recs) != want {
		g.t.Fatalf("GET /admin/v1/audit%s lists %d records, want %d", query, len(recs), want)
	}
	return recs
}

// TestAuditTrail: every call — allowed, refused, unmatched — is in the
// audit trail with the policy version that decided it, its consumer and
// key, and its path redacted; the admin API filters and pages it, and
// `portcullis audit export` writes it as JSON lines.
func TestAuditTrail(t *testing.T) {
	up, _ := echoUpstream(t)
	g := startGateway(t, auditPolicy(up.URL), "public")
	base := g.url("public")
	if resp, body := get(t, base+"/orders/alice@example.com?card=4111-1111-1111-1111&token=t0p", "X-API-Key", auditKey); resp.StatusCode != 200 {
		t.Fatalf("orders: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, base+"/reports/q?api_key="+auditKey+"&Password=hunter2&to=bob%40example.com&page=2"); resp.StatusCode != 200 {
		t.Fatalf("reports: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, base+"/orders/1")
	assertProblem(t, resp, body, 401)
	resp, body = get(t, base+"/nowhere")
	assertProblem(t, resp, body, 404)

	_, ready := g.adminGet("/readyz")
	var readyz struct{ Version int64 }
	if err := json.Unmarshal(ready, &readyz); err != nil || readyz.Version == 0 {
		t.Fatalf("readyz: %s", ready)
	}
	recs := g.waitAudit("", 4)
	want := []struct {
		path, route, decision, consumer, keyID string
		status                                 int
	}{
		{"/nowhere", "_unmatched", "not_found", "", "", 404},
		{"/orders/1", "orders", "unauthenticated", "", "", 401},
		{"/reports/q?api_key=[redacted]&Password=[redacted]&to=[redacted]&page=2", "reports", "allowed", "ci-bot", "ci-1", 200},
		{"/orders/[redacted]?card=[redacted]&token=[redacted]", "orders", "allowed", "ci-bot", "ci-1", 200},
	}
	for i, w := range want {
		r := recs[i]
		if r.Path != w.path || r.Route != w.route || r.Decision != w.decision || r.Consumer != w.consumer || r.KeyID != w.keyID ||
			r.Status != w.status || r.PolicyVersion != readyz.Version || r.Method != "GET" || r.Listener != "public" ||
			r.ClientIP != "127.0.0.1" || r.RequestID == "" || r.LatencyMs <= 0 || time.Since(r.Time) > time.Minute {
			t.Errorf("record %d = %+v, want %+v at policy version %d", i, r, w, readyz.Version)
		}
		if (w.status != 200) != (r.Reason != "") {
			t.Errorf("record %d: reason %q for status %d", i, r.Reason, w.status)
		}
	}
	_, raw := g.adminGet("/admin/v1/audit")
	for _, secret := range []string{auditKey, "alice@", "4111", "t0p", "bob%40", "hunter2"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the audit trail holds %q: %s", secret, raw)
		}
	}
	for _, field := range []string{`"status":404`, `"policyVersion":`, `"latencyMs":`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("the audit answer has no %s: %s", field, raw)
		}
	}

	// Filters and paging.
	g.waitAudit("?consumer=ci-bot", 2)
	g.waitAudit("?route=orders", 2)
	g.waitAudit("?since="+recs[1].Time.Format(time.RFC3339Nano), 2)
	page := g.waitAudit("?limit=3", 3)
	_, body = g.adminGet("/admin/v1/audit?limit=3")
	var first auditPage
	_ = json.Unmarshal(body, &first)
	if first.Next == "" || page[0].RequestID != recs[0].RequestID {
		t.Fatalf("a first page of 3 of 4: %s", body)
	}
	if rest := g.waitAudit("?limit=3&cursor="+first.Next, 1); rest[0].RequestID != recs[3].RequestID {
		t.Errorf("the second page = %+v, want the oldest record", rest)
	}
	for _, q := range []string{"?since=yesterday", "?limit=0", "?limit=1001", "?cursor=x"} {
		resp, body := g.adminGet("/admin/v1/audit" + q)
		assertProblem(t, resp, body, 400)
	}

	// The export.
	env := []string{"PORTCULLIS_ADMIN_URL=http://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	code, out, errOut := runWith(t, env, "audit", "export", "--since", since)
	lines := parseJSONLines(out)
	if code != 0 || len(lines) != 4 || lines[0]["requestId"] != recs[0].RequestID || lines[3]["path"] != want[3].path {
		t.Fatalf("audit export: %d, %d lines\n%s%s", code, len(lines), out, errOut)
	}
	if code, out, _ := runWith(t, env, "audit", "export", "--since", since, "--route", "orders", "--consumer", "ci-bot"); code != 0 || len(parseJSONLines(out)) != 1 {
		t.Errorf("audit export --route orders --consumer ci-bot: %d\n%s", code, out)
	}
	if code, _, errOut := runWith(t, env, "audit", "export"); code != 2 || !strings.Contains(errOut, "--since") {
		t.Errorf("audit export without --since: %d %s", code, errOut)
	}
}

// TestAuditExportAI: an AI call's record carries its ai facts through the
// admin API and `portcullis audit export` (tokens and cost as numbers);
// other records have no ai.
func TestAuditExportAI(t *testing.T) {
	up, _ := echoUpstream(t)
	dbPath := filepath.Join(t.TempDir(), "portcullis.db")
	s, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	recs := []store.AuditRecord{
		{Time: now, RequestID: "ai-call", Method: "POST", Path: "/v1/chat/completions", Route: "chat", Status: 200,
			Decision: "allowed", PolicyVersion: 1, LatencyMs: 812.5, Listener: "public",
			AI: &store.AuditAI{Provider: "openai-main", Model: "gpt-4o-mini-2024-07-18", PromptTokens: 1200, CompletionTokens: 345,
				CostUSD: 0.000387, Usage: "provider", Ended: "complete"}},
		{Time: now, RequestID: "plain-call", Method: "GET", Path: "/orders/1", Route: "orders", Status: 200,
			Decision: "allowed", PolicyVersion: 1, LatencyMs: 1.5, Listener: "public"},
	}
	if err := s.AppendAudit(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	g := startGatewayOn(t, "sqlite:"+dbPath, auditPolicy(up.URL), "public")
	env := []string{"PORTCULLIS_ADMIN_URL=http://" + g.admin, "PORTCULLIS_ADMIN_TOKEN=" + adminToken}
	code, out, errOut := runWith(t, env, "audit", "export", "--since", now.Add(-time.Minute).Format(time.RFC3339))
	byID := map[string]map[string]any{}
	for _, l := range parseJSONLines(out) {
		id, _ := l["requestId"].(string)
		byID[id] = l
	}
	if code != 0 || byID["ai-call"] == nil || byID["plain-call"] == nil {
		t.Fatalf("audit export: %d\n%s%s", code, out, errOut)
	}
	want := map[string]any{"provider": "openai-main", "model": "gpt-4o-mini-2024-07-18", "promptTokens": 1200.0,
		"completionTokens": 345.0, "costUSD": 0.000387, "usage": "provider", "ended": "complete"}
	ai, _ := byID["ai-call"]["ai"].(map[string]any)
	if len(ai) != len(want) {
		t.Errorf("exported ai = %#v, want %#v", byID["ai-call"]["ai"], want)
	}
	for k, v := range want {
		if ai[k] != v {
			t.Errorf("exported ai field %s = %#v, want %#v", k, ai[k], v)
		}
	}
	if v, ok := byID["plain-call"]["ai"]; ok {
		t.Errorf("a record that is not an AI call exported ai %#v", v)
	}
}

// auditCount counts the records in the SQLite store at path whose path
// starts with prefix, reading the file as the gateway left it.
func auditCount(t *testing.T, path, prefix string) int {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	q := store.AuditQuery{Limit: store.MaxAuditLimit}
	for {
		recs, next, err := s.Audit(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if strings.HasPrefix(r.Path, prefix) {
				n++
			}
		}
		if next == "" {
			return n
		}
		q.Cursor = next
	}
}

// traffic sends n requests to base+prefix+i from 8 clients and returns
// how many were answered; a client stops at its first failure (a gateway
// killed meanwhile answers fewer).
func traffic(base, prefix string, n int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := 0
	for c := range 8 {
		wg.Go(func() {
			for i := c; i < n; i += 8 {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s%s%d", base, prefix, i), nil)
				req.Header.Set("X-API-Key", auditKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the gateway is gone
				}
				resp.Body.Close()
				mu.Lock()
				answered++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return answered
}

// TestAuditSIGTERMLosesNone: the records of every request answered before
// SIGTERM are in the store after the restart.
func TestAuditSIGTERMLosesNone(t *testing.T) {
	up, _ := echoUpstream(t)
	dbPath := filepath.Join(t.TempDir(), "portcullis.db")
	g := startGatewayOn(t, "sqlite:"+dbPath, auditPolicy(up.URL), "public")
	const n = 2000
	if answered := traffic(g.url("public"), "/orders/term-", n); answered != n {
		t.Fatalf("%d of %d answered", answered, n)
	}
	g.signal(syscall.SIGTERM)
	if code := g.waitExit(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := auditCount(t, dbPath, "/orders/term-"); got != n {
		t.Fatalf("after SIGTERM the store holds %d records of %d requests", got, n)
	}
	g = startGatewayOn(t, "sqlite:"+dbPath, auditPolicy(up.URL), "public")
	if recs := g.waitAudit("?route=orders&limit=1000", 1000); recs[0].PolicyVersion == 0 {
		t.Errorf("records after the restart: %+v", recs[0])
	}
	t.Logf("SIGTERM right after %d requests: %d records stored", n, n)
}

// TestAuditKillLosesAtMostASecond: after kill -9, every request answered
// more than a second before the kill is in the store, while requests that
// were still arriving at the kill may be missing.
func TestAuditKillLosesAtMostASecond(t *testing.T) {
	up, _ := echoUpstream(t)
	dbPath := filepath.Join(t.TempDir(), "portcullis.db")
	g := startGatewayOn(t, "sqlite:"+dbPath, auditPolicy(up.URL), "public")
	const n = 1000
	if answered := traffic(g.url("public"), "/orders/early-", n); answered != n {
		t.Fatalf("%d of %d answered", answered, n)
	}
	answeredAt := time.Now()
	durable := time.Duration(0)
	for durable == 0 {
		if auditCount(t, dbPath, "/orders/early-") == n {
			durable = time.Since(answeredAt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// More than a second after the early requests, kill the gateway
	// in the middle of more traffic.
	time.Sleep(time.Until(answeredAt.Add(1100 * time.Millisecond)))
	late := make(chan int)
	go func() { late <- traffic(g.url("public"), "/orders/late-", 1_000_000) }()
	time.Sleep(300 * time.Millisecond)
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	g.waitExit(10 * time.Second)
	lateAnswered := <-late
	if got := auditCount(t, dbPath, "/orders/early-"); got != n {
		t.Fatalf("after kill -9 the store holds %d records of the %d requests answered over a second before", got, n)
	}
	lateStored := auditCount(t, dbPath, "/orders/late-")
	t.Logf("kill -9: all %d early records kept (durable %v after the last answer); of %d requests answered in the last 300 ms, %d records stored",
		n, durable.Round(time.Millisecond), lateAnswered, lateStored)
}
