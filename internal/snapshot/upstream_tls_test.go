package snapshot

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/testpki"
)

// tlsPolicy is one route to Service svc at an https URL with the tls block
// given.
func tlsPolicy(tls string) string {
	return `
apiVersion: gateway/v1
kind: Gateway
metadata: {name: t}
spec:
  listeners: [{name: a, port: 8001}]
  routes: [{name: r, match: {pathPrefix: /}, to: svc}, {name: r2, match: {pathPrefix: /2}, to: svc}]
---
apiVersion: gateway/v1
kind: Service
metadata: {name: svc}
spec: {url: "https://127.0.0.1:9443", tls: ` + tls + `}
`
}

// A Service's upstream is kept across compiles while its tls settings and
// the contents of its files stay the same, and replaced when either
// changes, so that no connection made under an old CA or client
// certificate is reused.
func TestCompileUpstreamTLS(t *testing.T) {
	dir := t.TempDir()
	caFile := testpki.WriteFile(t, dir, "ca.pem", testpki.NewCA(t, "CA").PEM)
	var logs bytes.Buffer
	deps := Deps{Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(&logs, nil))}
	up := func(s *Snapshot, path string) any {
		return s.Listeners[0].Router.Match("h", path, "GET").Route.Upstream
	}

	withCA := tlsPolicy("{caFile: " + caFile + "}")
	first := compile(t, withCA, deps, nil)
	if up(first, "/") != up(first, "/2") {
		t.Error("two routes to one Service got two upstreams")
	}
	again := compile(t, withCA, deps, first)
	if up(again, "/") != up(first, "/") {
		t.Error("unchanged tls: the upstream was not kept")
	}

	if err := os.WriteFile(caFile, testpki.NewCA(t, "rotated CA").PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	rotated := compile(t, withCA, deps, again)
	if up(rotated, "/") == up(again, "/") {
		t.Error("the CA file's content changed, the upstream was kept")
	}
	named := compile(t, tlsPolicy("{caFile: "+caFile+", serverName: api.internal}"), deps, rotated)
	if up(named, "/") == up(rotated, "/") {
		t.Error("serverName changed, the upstream was kept")
	}

	if strings.Contains(logs.String(), "INSECURE") {
		t.Errorf("warned without insecureSkipVerify: %s", logs.String())
	}
	insecure := tlsPolicy("{insecureSkipVerify: true}")
	skipping := compile(t, insecure, deps, named)
	if up(skipping, "/") == up(named, "/") {
		t.Error("insecureSkipVerify turned on, the upstream was kept")
	}
	compile(t, insecure, deps, skipping)
	// Every compile warns, once per Service, the upstream kept or not.
	if n := strings.Count(logs.String(), "level=WARN msg=\"INSECURE: tls.insecureSkipVerify is set"); n != 2 {
		t.Errorf("%d warnings over two compiles, want 2:\n%s", n, logs.String())
	}
}

// A file that no longer loads when the policy is compiled (it was valid when
// the policy was validated) fails the compile, and says which.
func TestCompileUpstreamTLSFileGone(t *testing.T) {
	caFile := testpki.WriteFile(t, t.TempDir(), "ca.pem", testpki.NewCA(t, "CA").PEM)
	p, err := config.Parse("t.yaml", []byte(tlsPolicy("{caFile: "+caFile+"}")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	_, err = Compile(p, Deps{Metrics: metrics.New()}, nil)
	if want := "service svc: tls.caFile: open " + caFile + ": no such file or directory"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Compile: %v, want it to say %q", err, want)
	}
}
