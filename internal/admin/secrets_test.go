package admin

import (
	"bytes"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/secrets"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// TestSecretsAPI: values go in (text or JSON), sealed, and never come out,
// not even in the log; without a master key nothing is stored.
func TestSecretsAPI(t *testing.T) {
	st, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	raw := make([]byte, secrets.KeySize)
	_, _ = rand.Read(raw)
	key, _ := secrets.NewKey(raw)
	keys := secrets.NewKeyring(key)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	withKey, noKey := http.NewServeMux(), http.NewServeMux()
	(&secretAPI{store: st, keys: keys, log: log}).register(withKey)
	(&secretAPI{store: st, log: log}).register(noKey)
	call := func(mux *http.ServeMux, method, path, ctype, body string) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	if code, body := call(noKey, "PUT", "/admin/v1/secrets/A_KEY", "text/plain", "v"); code != 409 || !strings.Contains(body, "PORTCULLIS_MASTER_KEY") {
		t.Errorf("no master key: %d %s", code, body)
	}
	for _, c := range []struct{ path, ctype, body string }{
		{"/admin/v1/secrets/lower", "text/plain", "v"},
		{"/admin/v1/secrets/A_KEY", "text/plain", ""},
		{"/admin/v1/secrets/A_KEY", "application/json", `{"other": "v"}`},
		{"/admin/v1/secrets/A_KEY", "text/plain", strings.Repeat("x", secrets.MaxValueBytes+1)},
	} {
		if code, body := call(withKey, "PUT", c.path, c.ctype, c.body); code != 400 {
			t.Errorf("PUT %s %.40q: %d %s; want 400", c.path, c.body, code, body)
		}
	}
	if code, body := call(withKey, "PUT", "/admin/v1/secrets/A_KEY", "text/plain", "plain-value-1"); code != 204 {
		t.Fatalf("PUT text: %d %s", code, body)
	}
	if code, body := call(withKey, "PUT", "/admin/v1/secrets/B_KEY", "application/json", `{"value": "json-value-2"}`); code != 204 {
		t.Fatalf("PUT json: %d %s", code, body)
	}
	for name, want := range map[string]string{"A_KEY": "plain-value-1", "B_KEY": "json-value-2"} {
		rec, err := st.Secret(t.Context(), name)
		if err != nil || rec.Author != adminAuthor {
			t.Fatalf("%s: %+v, %v", name, rec, err)
		}
		if v, err := keys.Open(rec); err != nil || string(v) != want {
			t.Errorf("%s opens as %q, %v; want %q", name, v, err, want)
		}
	}
	code, body := call(withKey, "GET", "/admin/v1/secrets", "", "")
	if code != 200 || !strings.Contains(body, `"name":"A_KEY"`) || !strings.Contains(body, `"keyId":"`+key.ID()+`"`) ||
		strings.Contains(body, "value-") {
		t.Errorf("GET: %d %s", code, body)
	}
	if code, _ := call(withKey, "DELETE", "/admin/v1/secrets/A_KEY", "", ""); code != 204 {
		t.Errorf("DELETE: %d", code)
	}
	if code, _ := call(withKey, "DELETE", "/admin/v1/secrets/A_KEY", "", ""); code != 404 {
		t.Errorf("DELETE again: %d, want 404", code)
	}
	if strings.Contains(logs.String(), "value-") || !strings.Contains(logs.String(), `"msg":"secret set"`) {
		t.Errorf("log: %s", logs.String())
	}
}
