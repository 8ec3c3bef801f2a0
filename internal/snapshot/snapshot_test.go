package snapshot

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
)

const base = `
apiVersion: gateway/v1
kind: Gateway
metadata: {name: t}
spec:
  trustedProxies: [10.0.0.0/8, 192.0.2.1]
  limits: {maxHeaderBytes: 1000}
  listeners:
    - name: a
      port: 8001
      routes: [{name: only-a, match: {pathPrefix: /a}, to: one, stripPrefix: true}]
    - name: b
      address: 127.0.0.1
      port: 8002
  routes:
    - {name: everywhere, match: {pathPrefix: /}, to: two, timeout: 5s}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: one}
spec: {url: "http://127.0.0.1:9001", timeout: 7s}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: two}
spec: {urls: ["http://127.0.0.1:9002", "http://127.0.0.1:9003"]}
`

func compile(t *testing.T, src string, deps Deps, prev *Snapshot) *Snapshot {
	t.Helper()
	p, err := config.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(p, deps, prev)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompile(t *testing.T) {
	m := metrics.New()
	s := compile(t, base, Deps{Metrics: m, ListenAddrs: map[string]string{"b": "127.0.0.1:0"}}, nil)
	defer s.Release(nil)

	if s.MaxHeaderBytes != 1000 || s.MaxHeaderCount != 100 || !s.AccessLog.Enabled || s.AccessLog.Path != "stdout" {
		t.Errorf("limits/access log defaults: %+v %+v", s.MaxHeaderBytes, s.AccessLog)
	}
	if len(s.TrustedProxies) != 2 || s.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Errorf("trusted proxies: %v", s.TrustedProxies)
	}
	a := s.ListenerByAddr("0.0.0.0:8001")
	b := s.ListenerByAddr("127.0.0.1:0") // --listen override
	if a == nil || b == nil || s.ListenerByAddr("127.0.0.1:8002") != nil {
		t.Fatalf("listeners: %+v", s.Listeners)
	}
	// Listener routes and spec-level routes both apply; timeouts resolve
	// route → Service → default; stripPrefix keeps the prefix to strip.
	r := a.Router.Match("h", "/a/x", "GET")
	if !r.Found || r.Route.Name != "only-a" || r.Route.StripPrefix != "/a" || r.Route.Timeout.String() != "7s" {
		t.Errorf("only-a: %+v", r.Route)
	}
	r = a.Router.Match("h", "/z", "GET")
	if !r.Found || r.Route.Name != "everywhere" || r.Route.Timeout.String() != "5s" {
		t.Errorf("everywhere on a: %+v", r.Route)
	}
	if r := b.Router.Match("h", "/a/x", "GET"); !r.Found || r.Route.Name != "everywhere" {
		t.Errorf("listener b must not have listener a's route: %+v", r.Route)
	}
}

func TestCompileKeepsUnchangedUpstreams(t *testing.T) {
	m := metrics.New()
	first := compile(t, base, Deps{Metrics: m}, nil)
	changed := strings.Replace(base, "http://127.0.0.1:9001", "http://127.0.0.1:9009", 1)
	second := compile(t, changed, Deps{Metrics: m}, first)
	defer second.Release(nil)

	up := func(s *Snapshot, route string) any {
		return s.Listeners[0].Router.Match("h", map[string]string{"only-a": "/a/x", "everywhere": "/z"}[route], "GET").Route.Upstream
	}
	if up(first, "everywhere") != up(second, "everywhere") {
		t.Error("an unchanged Service got a new upstream (its warm connections are lost on reload)")
	}
	if up(first, "only-a") == up(second, "only-a") {
		t.Error("a changed Service kept its old upstream")
	}
	first.Release(second) // closes only what second no longer uses
}
