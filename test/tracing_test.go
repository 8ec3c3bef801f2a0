package test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpCollector is a fake OpenTelemetry collector: it takes OTLP/HTTP
// protobuf exports on /v1/traces, as a real one does on port 4318.
type otlpCollector struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func startCollector(t *testing.T) *otlpCollector {
	c := &otlpCollector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector: %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		var req collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			t.Errorf("collector: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			c.services = append(c.services, attr(rs.Resource.Attributes, "service.name"))
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

// waitSpans waits until the collector holds n spans, and returns them.
func (c *otlpCollector) waitSpans(t *testing.T, n int) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		spans := append([]*tracepb.Span(nil), c.spans...)
		c.mu.Unlock()
		if len(spans) >= n {
			return spans
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the collector did not receive %d spans", n)
	return nil
}

// attr returns the string (or integer, as text) value of an attribute.
func attr(attrs []*commonpb.KeyValue, key string) string {
	for _, kv := range attrs {
		if kv.Key == key {
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return strconv.FormatInt(v.IntValue, 10)
			}
		}
	}
	return ""
}

// traceUpstream answers 200 and hands over the trace context it received.
func traceUpstream(t *testing.T) (*httptest.Server, chan [2]string) {
	got := make(chan [2]string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- [2]string{r.Header.Get("Traceparent"), r.Header.Get("Tracestate")}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
const callerSpan = "00f067aa0ba902b7"

func tracingPolicy(upstream string) string {
	return `apiVersion: gateway/v1
kind: Gateway
metadata: {name: e2e}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: open, match: {pathPrefix: /open}, to: backend}
    - {name: api, match: {pathPrefix: /api}, to: backend, authentication: {type: apiKey}}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: ` + upstream + `}
`
}

// TestTracingEndToEnd: with an OTLP endpoint in the environment, a call
// that carries a W3C traceparent gets a server span in the caller's trace
// and a client span around the upstream call, whose traceparent the
// upstream receives; both reach the collector with the route, status,
// decision and policy version. A refused call is traced too.
func TestTracingEndToEnd(t *testing.T) {
	col := startCollector(t)
	up, received := traceUpstream(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_SERVICE_NAME", "e2e-gateway")
	g := startGateway(t, tracingPolicy(up.URL), "public")

	resp, _ := get(t, g.url("public")+"/open/x?token=secret", "Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01", "Tracestate", "vendor=1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	tc := <-received
	parts := strings.Split(tc[0], "-")
	if len(parts) != 4 || parts[0] != "00" || parts[1] != callerTrace || parts[2] == callerSpan || parts[3] != "01" {
		t.Fatalf("the upstream's traceparent %q: want the caller's trace with the gateway's span as parent", tc[0])
	}
	if tc[1] != "vendor=1" {
		t.Errorf("tracestate %q, want the caller's", tc[1])
	}
	if resp, _ := get(t, g.url("public")+"/api/x"); resp.StatusCode != 401 {
		t.Fatalf("refused call: %d", resp.StatusCode)
	}

	spans := col.waitSpans(t, 3)
	byName := map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	server, client, refused := byName["GET open"], byName["upstream backend"], byName["GET api"]
	if server == nil || client == nil || refused == nil {
		t.Fatalf("spans %v", names(spans))
	}
	if hex.EncodeToString(server.TraceId) != callerTrace || hex.EncodeToString(server.ParentSpanId) != callerSpan || server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span: trace %x parent %x kind %v", server.TraceId, server.ParentSpanId, server.Kind)
	}
	if !bytes.Equal(client.ParentSpanId, server.SpanId) || hex.EncodeToString(client.SpanId) != parts[2] || client.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("client span: parent %x (server %x), id %x (upstream saw %s)", client.ParentSpanId, server.SpanId, client.SpanId, parts[2])
	}
	for key, want := range map[string]string{"http.route": "open", "http.response.status_code": "200", "http.request.method": "GET",
		"url.path": "/open/x", "portcullis.decision": "allowed", "portcullis.policy_version": "1"} {
		if got := attr(server.Attributes, key); got != want {
			t.Errorf("server span %s = %q, want %q", key, got, want)
		}
	}
	if attr(refused.Attributes, "portcullis.decision") != "unauthenticated" || attr(refused.Attributes, "http.response.status_code") != "401" {
		t.Errorf("refused span attributes %v", refused.Attributes)
	}
	if len(refused.ParentSpanId) != 0 {
		t.Errorf("a call without traceparent starts a trace: parent %x", refused.ParentSpanId)
	}
	col.mu.Lock()
	if col.services[0] != "e2e-gateway" {
		t.Errorf("service.name %q", col.services[0])
	}
	col.mu.Unlock()
}

// TestTracingOff: without an OTLP endpoint nothing is traced, and the
// caller's trace context reaches the upstream unchanged.
func TestTracingOff(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	up, received := traceUpstream(t)
	g := startGateway(t, tracingPolicy(up.URL), "public")
	tp := "00-" + callerTrace + "-" + callerSpan + "-01"
	get(t, g.url("public")+"/open/x", "Traceparent", tp)
	if tc := <-received; tc[0] != tp {
		t.Errorf("traceparent %q, want %q unchanged", tc[0], tp)
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
