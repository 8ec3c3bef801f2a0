package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

const onePolicy = `apiVersion: gateway/v1
kind: Gateway
metadata: {name: t}
spec:
  listeners: [{name: public, port: 8080}]
  routes:
    - {name: api, match: {pathPrefix: /api}, methods: [METHODS], to: backend}
---
apiVersion: gateway/v1
kind: Service
metadata: {name: backend}
spec: {url: "http://127.0.0.1:1"}
`

func files(methods string, extra ...string) []store.File {
	return []store.File{{Name: "p.yaml", Content: strings.Replace(onePolicy, "METHODS", methods, 1) + strings.Join(extra, "")}}
}

func newPlane(t *testing.T) (*Plane, *snapshot.Holder) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var holder snapshot.Holder
	swap := func(s *snapshot.Snapshot) error { holder.Swap(s); return nil }
	return New(st, &holder, &shadow.Holder{}, swap, snapshot.Deps{Metrics: metrics.New()}, ".", slog.New(slog.NewTextHandler(io.Discard, nil))), &holder
}

func propose(p *Plane, fs []store.File, allow bool, base int64) (Outcome, error) {
	return p.Propose(context.Background(), Proposal{Files: fs, Reason: "test", Author: "t", Source: store.SourceAPI, AllowWeakening: allow, Base: base})
}

func TestProposeLifecycle(t *testing.T) {
	p, holder := newPlane(t)
	// The first version: open routes are new routes without authentication.
	if _, err := propose(p, files("GET"), false, -1); !errors.As(err, new(*WeakeningError)) {
		t.Fatalf("first open policy without allowWeakening: %v", err)
	}
	out, err := propose(p, files("GET"), true, -1)
	if err != nil || out.Version.Number != 1 || holder.Load().Version != 1 {
		t.Fatalf("first apply: %+v %v", out.Version, err)
	}
	// The same files again: nothing recorded.
	if out, err := propose(p, files("GET"), false, -1); err != nil || out.Changed || out.Version.Number != 1 {
		t.Fatalf("unchanged: %+v %v", out, err)
	}
	// Narrowing is not weakening; a stale base is a conflict.
	if _, err := propose(p, files("GET, POST"), true, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := propose(p, files("GET"), false, 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale base: %v", err)
	}
	if out, err := propose(p, files("GET"), false, 2); err != nil || out.Version.Number != 3 {
		t.Fatalf("narrowing: %+v %v", out.Version, err)
	}
	// Invalid files are problems, named as submitted; nothing changes.
	_, err = propose(p, []store.File{{Name: "bad.yaml", Content: "kind: Nope\n"}}, true, -1)
	var problems config.Problems
	if !errors.As(err, &problems) || problems[0].File != "bad.yaml" || holder.Load().Version != 3 {
		t.Fatalf("invalid: %v", err)
	}
	// A failing PolicyTest refuses the change.
	guard := `---
apiVersion: gateway/v1
kind: PolicyTest
metadata: {name: guard}
spec:
  cases:
    - {name: no posts, request: {method: POST, path: /api/x}, expect: {status: 405}}
`
	_, err = propose(p, files("GET, POST", guard), true, -1)
	var failures TestFailures
	if !errors.As(err, &failures) || failures[0].Case != "no posts" || failures[0].Got != 200 {
		t.Fatalf("failing test: %v", err)
	}
	// Rollback records a new version with the old content, flagged.
	out, err = p.Rollback(context.Background(), 2, "back", "t")
	if err != nil || out.Version.Number != 4 || !out.Version.Rollback || out.Version.RollbackOf != 2 || !out.Version.Weakening {
		t.Fatalf("rollback: %+v %v", out.Version, err)
	}
	// A dry run records nothing.
	if out, err := p.Propose(context.Background(), Proposal{Files: files("GET"), Reason: "dry", Source: store.SourceAPI, DryRun: true, Base: -1}); err != nil || out.Version.Number != 0 {
		t.Fatalf("dry run: %+v %v", out, err)
	}
	if v, _ := p.Store().ActiveVersion(context.Background()); v.Number != 4 {
		t.Fatalf("active after dry run: %d", v.Number)
	}
}
