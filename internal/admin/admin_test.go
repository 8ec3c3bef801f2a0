package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestTokenGuardsAllButHealth(t *testing.T) {
	var holder snapshot.Holder
	h := New(Config{
		Token:    "s3cret",
		Metrics:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }),
		Holder:   &holder,
		Warnings: func() []string { return []string{"careful"} },
	})
	call := func(path, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := call("/healthz", ""); rec.Code != 200 {
		t.Errorf("/healthz: %d", rec.Code)
	}
	// No snapshot yet: not ready, with the warnings.
	if rec := call("/readyz", ""); rec.Code != 503 || !strings.Contains(rec.Body.String(), "careful") {
		t.Errorf("/readyz: %d %s", rec.Code, rec.Body)
	}
	for _, auth := range []string{"", "Bearer ", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "bearer s3cret"} {
		rec := call("/metrics", auth)
		if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("auth %q: %d %v", auth, rec.Code, rec.Header())
		}
	}
	if rec := call("/metrics", "Bearer s3cret"); rec.Code != 200 || rec.Body.String() != "metrics" {
		t.Errorf("/metrics with token: %d %s", rec.Code, rec.Body)
	}
	if rec := call("/admin/v1/nothing", "Bearer s3cret"); rec.Code != 404 {
		t.Errorf("unknown endpoint: %d", rec.Code)
	}
	if rec := call("/admin/v1/nothing", ""); rec.Code != 401 {
		t.Errorf("unknown endpoint without token must not reveal anything: %d", rec.Code)
	}
}
