package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/proxy"
	"github.com/portcullis/portcullis/internal/testpki"
)

// SyncFile with the active version's manifests still reads the files they
// name: a Service's rotated CA replaces its upstream (and so its pooled
// connections) without a new version; a broken one is refused and the
// active snapshot keeps serving.
func TestSyncFileRereadsNamedFiles(t *testing.T) {
	p, holder := newPlane(t)
	dir := t.TempDir()
	caFile := testpki.WriteFile(t, dir, "ca.pem", testpki.NewCA(t, "CA").PEM)
	policy := testpki.WriteFile(t, dir, "policy.yaml", []byte(`apiVersion: gateway/v1
kind: Gateway
metadata: {name: t}
spec:
  listeners: [{name: public, port: 8080}]
  routes: [{name: api, match: {pathPrefix: /api}, to: backend}]
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: "https://127.0.0.1:1", tls: {caFile: `+filepath.Base(caFile)+`}}
`))
	p.dir = dir
	sync := func() (Outcome, error) { return p.SyncFile(context.Background(), policy, "test") }
	upstream := func() *proxy.Upstream {
		return holder.Load().Listeners[0].Router.Match("h", "/api/x", "GET").Route.Upstream
	}

	if out, err := sync(); err != nil || out.Version.Number != 1 {
		t.Fatalf("first sync: %+v %v", out.Version, err)
	}
	first, active := upstream(), holder.Load()
	if out, err := sync(); err != nil || out.Changed || holder.Load().Version != 1 || upstream() != first {
		t.Fatalf("nothing changed: %+v %v; the upstream kept: %v", out, err, upstream() == first)
	}
	if holder.Load() == active {
		t.Error("the unchanged manifests were not compiled again")
	}

	if err := os.WriteFile(caFile, testpki.NewCA(t, "rotated CA").PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := sync(); err != nil || out.Changed || holder.Load().Version != 1 {
		t.Fatalf("CA rotated: %+v %v", out, err)
	}
	rotated := upstream()
	if rotated == first {
		t.Error("the CA changed, the upstream was kept")
	}

	if err := os.WriteFile(caFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	var problems config.Problems
	if _, err := sync(); !errors.As(err, &problems) || upstream() != rotated {
		t.Errorf("broken CA: %v; the active upstream kept: %v", err, upstream() == rotated)
	}
}
