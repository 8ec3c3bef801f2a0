package demo

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

func TestEcho(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/hello?x=1", strings.NewReader("hi"))
	req.Header.Set("X-Request-Id", "r1")
	Handler().ServeHTTP(rec, req)
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["path"] != "/api/hello" || got["query"] != "x=1" || got["body"] != "hi" || got["method"] != "POST" {
		t.Errorf("echo: %v", got)
	}
}

func TestCurlLines(t *testing.T) {
	p, err := config.Load("../../examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	lines := CurlLines(p, map[string]string{"public": "127.0.0.1:8000"})
	want := []string{"curl -i http://127.0.0.1:8000/api/hello", "curl -i http://127.0.0.1:8000/events/stream"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q", lines)
	}
}
