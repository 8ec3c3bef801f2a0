package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func policy(t testing.TB, upstream, extra string) *config.Policy {
	t.Helper()
	p, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`
apiVersion: gateway/v1
kind: Gateway
metadata: {name: t}
spec:
  accessLog: {enabled: false}
  listeners: [{name: public, address: 127.0.0.1, port: 1}]
  routes:
    - {name: api, match: {pathPrefix: /api}, methods: [GET], to: backend}
%s
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: %s}
`, extra, upstream)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestServer compiles p and returns the edge handler of its one listener,
// without binding any address.
func newTestServer(t testing.TB, p *config.Policy) (*edge, *Server) {
	t.Helper()
	m := metrics.New()
	var holder snapshot.Holder
	snap, err := snapshot.Compile(p, snapshot.Deps{Metrics: m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	holder.Swap(snap)
	s := New(&holder, &shadow.Holder{}, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &edge{addr: snap.Listeners[0].Addr, srv: s}, s
}

func TestEdgeUsesTheSnapshotActiveAtArrival(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.URL.Path)
	}))
	defer up.Close()
	e, s := newTestServer(t, policy(t, up.URL, ""))

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/api/../api/x", nil))
	if rec.Code != 200 || rec.Body.String() != "/api/x" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}

	// Swap in a policy with a second route; the next request sees it.
	next, err := snapshot.Compile(policy(t, up.URL, "    - {name: more, match: {pathPrefix: /more}, to: backend}"),
		snapshot.Deps{Metrics: s.metrics}, s.holder.Load())
	if err != nil {
		t.Fatal(err)
	}
	s.holder.Swap(next)
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/more/y", nil))
	if rec.Code != 200 || rec.Body.String() != "/more/y" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
}

func TestApplyRefusesWhatItCannotBind(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	m := metrics.New()
	var holder snapshot.Holder
	s := New(&holder, &shadow.Holder{}, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p := policy(t, up.URL, "")
	p.Gateway.Spec.Listeners[0].Port = 0 // any free port
	first, err := snapshot.Compile(p, snapshot.Deps{Metrics: m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(first); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()

	// A second listener on an address that is taken: nothing changes.
	taken := strings.TrimPrefix(up.URL, "http://")
	second, err := snapshot.Compile(p, snapshot.Deps{Metrics: m, ListenAddrs: map[string]string{"public": taken}}, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(second); err == nil || !strings.Contains(err.Error(), "listener public") {
		t.Fatalf("Apply on a taken address: %v", err)
	}
	if holder.Load() != first {
		t.Fatal("a failed Apply swapped the snapshot")
	}
}

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the gateway's own request path and not a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkEdge is one proxied GET through the whole gateway request path —
// request id, limits, path normalization, routing, the upstream transport,
// metrics and the access log queue — minus net/http's own server.
func BenchmarkEdge(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer up.Close()
	e, _ := newTestServer(b, policy(b, up.URL, ""))
	req := httptest.NewRequest("GET", "/api/orders/123?x=1", nil)
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		e.ServeHTTP(w, req)
	}
}

// TestServerLogLevels: net/http's messages about a client's misbehaviour go
// to DEBUG, the rest to WARN.
func TestServerLogLevels(t *testing.T) {
	var buf bytes.Buffer
	l := serverLog{slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	_, _ = l.Write([]byte("http2: server connection error from 127.0.0.1:1234: connection error: PROTOCOL_ERROR\n"))
	_, _ = l.Write([]byte("http: Accept error: too many open files; retrying in 5ms\n"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"DEBUG"`) || !strings.Contains(lines[1], `"level":"WARN"`) {
		t.Errorf("levels: %s", buf.String())
	}
}
