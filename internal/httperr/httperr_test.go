package httperr

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteRendersProblemJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Length", "999") // a stale length must not survive
	e := New(404, DecisionNotFound, `no route for "<x>"`, errors.New("secret cause 10.0.0.7:8080"))
	Write(rec, e, "req-1")
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if p["type"] != "about:blank" || p["title"] != "Not Found" || p["status"] != float64(404) ||
		p["detail"] != `no route for "<x>"` || p["requestId"] != "req-1" {
		t.Errorf("problem = %v", p)
	}
	if strings.Contains(rec.Body.String(), "secret cause") || strings.Contains(rec.Body.String(), "<x>") {
		t.Errorf("body leaks the cause or unescaped HTML: %s", rec.Body)
	}
}

func TestAsHidesUnknownErrors(t *testing.T) {
	e := As(errors.New("pq: password authentication failed"))
	if e.Status != 500 || strings.Contains(e.Public, "password") {
		t.Errorf("As = %+v", e)
	}
	inner := New(429, DecisionLimited, "slow down", nil)
	if got := As(errors.Join(errors.New("ctx"), inner)); got != inner {
		t.Errorf("As did not find the wrapped *Error")
	}
}

func TestRenderIsValidJSONForAnyDetail(t *testing.T) {
	for _, d := range []string{"", "\x00\x1f\"\\", "\xff\xfe invalid utf8", "emoji 🚪"} {
		var p map[string]any
		if err := json.Unmarshal(Render(400, d, "id"), &p); err != nil {
			t.Errorf("Render(%q) is not JSON: %v", d, err)
		}
	}
}
