package tracing

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// clearEnv unsets every variable Enabled reads, for the test.
func clearEnv(t *testing.T) {
	for _, name := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(name, "")
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		clearEnv(t)
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		if got := Enabled(); got != tc.want {
			t.Errorf("%v: Enabled = %v", tc.env, got)
		}
	}
}

// TestFromEnv: off by default; what it cannot do (gRPC, another
// exporter) is refused at start, not ignored.
func TestFromEnv(t *testing.T) {
	clearEnv(t)
	if tr, err := FromEnv(t.Context(), "test"); tr != nil || err != nil {
		t.Errorf("default: %v, %v; want off", tr, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tr, err := FromEnv(t.Context(), "test")
	if tr == nil || err != nil {
		t.Fatalf("with an endpoint: %v, %v", tr, err)
	}
	_ = tr.Shutdown(context.Background())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	if _, err := FromEnv(t.Context(), "test"); err == nil || !strings.Contains(err.Error(), "http/protobuf") {
		t.Errorf("grpc: %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if _, err := FromEnv(t.Context(), "test"); err == nil {
		t.Error("zipkin: no error")
	}
}

// TestSpans: a made-up method does not name spans; the upstream span is
// the server span's child and an error when the upstream did not answer.
func TestSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	start := time.Now()
	r := httptest.NewRequest("BREW", "/pot", nil)
	q := tr.StartRequest(r, start)
	tp, _, end := q.Upstream("coffee")
	end(0)
	q.End(Facts{Route: "pot", Path: "/pot", Status: 502, Decision: "upstream_error"}, start.Add(time.Millisecond))
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	up, srv := spans[0], spans[1]
	if srv.Name != "HTTP pot" || up.Name != "upstream coffee" {
		t.Errorf("names %q, %q", srv.Name, up.Name)
	}
	if up.Parent.SpanID() != srv.SpanContext.SpanID() || !strings.Contains(tp, up.SpanContext.SpanID().String()) {
		t.Errorf("upstream span's parent %v, traceparent %s", up.Parent.SpanID(), tp)
	}
	if up.Status.Code.String() != "Error" || srv.Status.Code.String() != "Error" {
		t.Errorf("statuses %v, %v", up.Status, srv.Status)
	}
	if srv.EndTime.Sub(srv.StartTime) != time.Millisecond {
		t.Errorf("server span lasted %v", srv.EndTime.Sub(srv.StartTime))
	}
}
