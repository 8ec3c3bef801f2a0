package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// TestAuditAPI: the records as CONTRACT §4 shows them (numbers as
// numbers, ai only on AI calls), filters, paging with next, since
// inclusive, and a 400 problem for every bad parameter.
func TestAuditAPI(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var recs []store.AuditRecord
	for i := range 5 {
		recs = append(recs, store.AuditRecord{Time: start.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprint("r", i),
			Consumer: []string{"alice", "bob"}[i%2], ClientIP: "192.0.2.1", Method: "GET", Path: "/x?token=[redacted]", Route: "items",
			Status: 200, Decision: "allowed", PolicyVersion: 3, LatencyMs: 1.5, Listener: "public"})
	}
	recs[4].Status, recs[4].Decision, recs[4].Reason, recs[4].KeyID = 403, "forbidden", "role not allowed", "key_1"
	recs[4].AI = &store.AuditAI{Provider: "openai-main", Model: "gpt-4o-mini-2024-07-18", PromptTokens: 1200, CompletionTokens: 345,
		CostUSD: 0.000387, Usage: "estimated", Ended: "client_disconnect"}
	if err := st.AppendAudit(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&auditAPI{store: st}).register(mux)
	get := func(query string) (int, string, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/v1/audit"+query, nil))
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: %v: %s", query, err, rec.Body)
		}
		return rec.Code, rec.Header().Get("Content-Type"), out
	}

	code, _, out := get("")
	records, _ := out["records"].([]any)
	if code != 200 || len(records) != 5 || out["next"] != "" {
		t.Fatalf("GET /admin/v1/audit = %d %v", code, out)
	}
	newest := records[0].(map[string]any)
	want := map[string]any{"time": "2026-11-28T12:00:04Z", "requestId": "r4", "consumer": "alice", "clientIP": "192.0.2.1",
		"method": "GET", "path": "/x?token=[redacted]", "route": "items", "status": 403.0, "decision": "forbidden",
		"reason": "role not allowed", "policyVersion": 3.0, "latencyMs": 1.5, "listener": "public", "keyId": "key_1"}
	for k, v := range want {
		if newest[k] != v {
			t.Errorf("record field %s = %#v, want %#v", k, newest[k], v)
		}
	}
	ai, _ := newest["ai"].(map[string]any)
	wantAI := map[string]any{"provider": "openai-main", "model": "gpt-4o-mini-2024-07-18", "promptTokens": 1200.0,
		"completionTokens": 345.0, "costUSD": 0.000387, "usage": "estimated", "ended": "client_disconnect"}
	if len(ai) != len(wantAI) {
		t.Errorf("ai = %#v, want %#v", newest["ai"], wantAI)
	}
	for k, v := range wantAI {
		if ai[k] != v {
			t.Errorf("ai field %s = %#v, want %#v", k, ai[k], v)
		}
	}
	if v, ok := records[1].(map[string]any)["ai"]; ok {
		t.Errorf("a record that is not an AI call has ai %#v", v)
	}

	seen := 0
	cursor := ""
	for page := 0; page < 5; page++ {
		q := "?limit=2&consumer=alice"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		_, _, out := get(q)
		seen += len(out["records"].([]any))
		if cursor, _ = out["next"].(string); cursor == "" {
			break
		}
	}
	if seen != 3 {
		t.Errorf("paging alice's records saw %d, want 3", seen)
	}
	if _, _, out := get("?since=2026-11-28T12:00:03Z"); len(out["records"].([]any)) != 2 {
		t.Errorf("since inclusive: %v", out)
	}

	for _, q := range []string{"?since=yesterday", "?since=2026-11-28", "?limit=0", "?limit=1001", "?limit=x", "?cursor=abc"} {
		code, ctype, out := get(q)
		if code != 400 || ctype != "application/problem+json" || out["detail"] == "" {
			t.Errorf("GET %s: %d %s %v; want a 400 problem", q, code, ctype, out)
		}
	}
}
