package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRouteObserveIsExposed(t *testing.T) {
	g := New()
	r := g.Route("orders")
	r.Observe(200, "allowed", 3*time.Millisecond, 2*time.Millisecond)
	r.Observe(200, "allowed", time.Millisecond, time.Millisecond)
	r.Observe(502, "upstream_error", time.Millisecond, 0)
	r.Observe(401, "unauthenticated", time.Millisecond, 0)
	r.Observe(429, "limited", time.Millisecond, 0)
	r.Observe(429, "limited", time.Millisecond, 0)
	g.Route(Unmatched).Observe(404, "not_found", time.Microsecond, 0)
	g.Reload("applied")

	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`portcullis_requests_total{decision="allowed",route="orders",status="200"} 2`,
		`portcullis_requests_total{decision="upstream_error",route="orders",status="502"} 1`,
		`portcullis_requests_total{decision="not_found",route="_unmatched",status="404"} 1`,
		`portcullis_request_duration_seconds_count{route="orders"} 6`,
		`portcullis_auth_failures_total{route="orders"} 1`,
		`portcullis_ratelimit_rejections_total{route="orders"} 2`,
		`portcullis_upstream_duration_seconds_count{route="orders"} 2`,
		`portcullis_config_reloads_total{result="applied"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestObserveDoesNotAllocateWhenWarm(t *testing.T) {
	r := New().Route("x")
	r.Observe(200, "allowed", time.Millisecond, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { r.Observe(200, "allowed", time.Millisecond, time.Millisecond) }); n != 0 {
		t.Errorf("Observe allocates %v times", n)
	}
}
