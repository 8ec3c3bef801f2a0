package admin

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// TestBlocksAPI: create (one subject, a ttl, a reason), list the active
// ones, remove; every invalid body is a 400 problem, an unknown id a 404,
// and each change is logged with who, what and why.
func TestBlocksAPI(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	mux := http.NewServeMux()
	(&blockAPI{store: st, log: slog.New(slog.NewJSONHandler(&logs, nil))}).register(mux)
	call := func(method, path, body string) (int, string, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		var out map[string]any
		if rec.Body.Len() > 0 {
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
			}
		}
		return rec.Code, rec.Header().Get("Content-Type"), out
	}

	for _, body := range []string{
		`{"ttl": "15m", "reason": "r"}`,
		`{"ip": "192.0.2.1", "consumer": "bob", "ttl": "15m", "reason": "r"}`,
		`{"ip": "192.0.2.1", "ttl": "15m"}`,
		`{"ip": "192.0.2.1", "ttl": "0s", "reason": "r"}`,
		`{"ip": "192.0.2.1", "ttl": "-1m", "reason": "r"}`,
		`{"ip": "192.0.2.1", "ttl": "15", "reason": "r"}`,
		`{"ip": "192.0.2.1", "reason": "r"}`,
		`{"ip": "192.0.2.999", "ttl": "15m", "reason": "r"}`,
		`{"consumer": "", "ttl": "15m", "reason": "r"}`,
		`{"key": "key_1", "ttl": "15m", "reason": "r"}`,
		`not json`,
	} {
		code, ctype, out := call("POST", "/admin/v1/blocks", body)
		if code != 400 || ctype != "application/problem+json" || out["detail"] == "" {
			t.Errorf("POST %s: %d %s %v; want a 400 problem", body, code, ctype, out)
		}
	}

	before := time.Now()
	code, _, ip := call("POST", "/admin/v1/blocks", `{"ip": "192.0.2.1/24", "ttl": "15m", "reason": "scanning /admin"}`)
	if code != 201 || ip["kind"] != "ip" || ip["value"] != "192.0.2.0/24" || ip["reason"] != "scanning /admin" || ip["author"] != adminAuthor ||
		!strings.HasPrefix(ip["id"].(string), "blk_") {
		t.Fatalf("POST an IP block: %d %v", code, ip)
	}
	expires, err := time.Parse(time.RFC3339Nano, ip["expiresAt"].(string))
	if err != nil || expires.Before(before.Add(15*time.Minute-time.Second)) || expires.After(time.Now().Add(15*time.Minute)) {
		t.Errorf("expiresAt %v (%v): want 15 minutes from now", ip["expiresAt"], err)
	}
	if _, err := time.Parse(time.RFC3339Nano, ip["createdAt"].(string)); err != nil {
		t.Errorf("createdAt %v: %v", ip["createdAt"], err)
	}
	code, _, consumer := call("POST", "/admin/v1/blocks", `{"consumer": "mallory", "ttl": "1h", "reason": "credential stuffing"}`)
	if code != 201 || consumer["kind"] != "consumer" || consumer["value"] != "mallory" {
		t.Fatalf("POST a consumer block: %d %v", code, consumer)
	}
	code, _, key := call("POST", "/admin/v1/blocks", `{"keyId": "key_0123", "ttl": "1h", "reason": "leaked"}`)
	if code != 201 || key["kind"] != "key" || key["value"] != "key_0123" {
		t.Fatalf("POST a key block: %d %v", code, key)
	}

	ids := func() []string {
		code, _, out := call("GET", "/admin/v1/blocks", "")
		if code != 200 {
			t.Fatalf("GET: %d %v", code, out)
		}
		var ids []string
		for _, b := range out["blocks"].([]any) {
			ids = append(ids, b.(map[string]any)["id"].(string))
		}
		return ids
	}
	if got := ids(); len(got) != 3 || got[0] != ip["id"] || got[1] != consumer["id"] || got[2] != key["id"] {
		t.Errorf("GET blocks = %v; want the three, oldest first", got)
	}
	if code, _, _ := call("DELETE", "/admin/v1/blocks/"+consumer["id"].(string), ""); code != 204 {
		t.Errorf("DELETE: %d", code)
	}
	if code, _, _ := call("DELETE", "/admin/v1/blocks/"+consumer["id"].(string), ""); code != 204 {
		t.Errorf("DELETE again: %d, want 204", code)
	}
	if code, ctype, _ := call("DELETE", "/admin/v1/blocks/blk_nope", ""); code != 404 || ctype != "application/problem+json" {
		t.Errorf("DELETE an unknown block: %d %s", code, ctype)
	}
	if got := ids(); len(got) != 2 || got[0] != ip["id"] || got[1] != key["id"] {
		t.Errorf("GET blocks after DELETE = %v; want the IP and key blocks", got)
	}

	var created, removed int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"id", "kind", "value", "reason", "author", "expiresAt"} {
			if rec[k] == nil || rec[k] == "" {
				t.Errorf("log record %v lacks %s", rec, k)
			}
		}
		switch rec["msg"] {
		case "block created":
			created++
		case "block removed":
			removed++
		}
	}
	if created != 3 || removed != 1 {
		t.Errorf("logged %d created, %d removed; want 3 and 1", created, removed)
	}
}
