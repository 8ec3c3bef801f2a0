package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/metrics"
	"github.com/portcullis/portcullis/internal/shadow"
	"github.com/portcullis/portcullis/internal/snapshot"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/sqlite"
)

// generatedPolicy is a policy of n routes over n/10 services; variant makes
// each call's policy different so that every apply is a real change.
func generatedPolicy(n, variant int) []store.File {
	var b strings.Builder
	b.WriteString("apiVersion: gateway/v1\nkind: Gateway\nmetadata: {name: big}\nspec:\n  listeners: [{name: public, port: 8080}]\n  routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "    - {name: r%d, match: {pathPrefix: /svc%d/r%d}, methods: [GET, POST], to: s%d, timeout: %ds}\n", i, i%10, i, i%(n/10), 10+variant%50)
	}
	for i := range n / 10 {
		fmt.Fprintf(&b, "---\napiVersion: gateway/v1\nkind: Service\nmetadata: {name: s%d}\nspec: {url: \"http://10.0.%d.%d:8080\"}\n", i, i/250, i%250)
	}
	return []store.File{{Name: "big.yaml", Content: b.String()}}
}

// BenchmarkApply1000Routes is one whole apply of a 1,000-route policy: parse
// and validate, diff against the active version, compile, run its tests,
// record it in an SQLite store, and swap it in.
func BenchmarkApply1000Routes(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var holder snapshot.Holder
	swap := func(s *snapshot.Snapshot) error {
		if prev := holder.Swap(s); prev != nil {
			prev.Release(s)
		}
		return nil
	}
	p := New(st, &holder, &shadow.Holder{}, swap, snapshot.Deps{Metrics: metrics.New()}, ".", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := p.Propose(ctx, Proposal{Files: generatedPolicy(1000, 0), Reason: "first", Source: store.SourceAPI, AllowWeakening: true, Base: -1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := p.Propose(ctx, Proposal{Files: generatedPolicy(1000, i), Reason: "bench", Source: store.SourceAPI, AllowWeakening: true, Base: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile1000Routes is the compile step alone: what happens between
// a valid policy and a snapshot ready to swap.
func BenchmarkCompile1000Routes(b *testing.B) {
	p := New(nil, &snapshot.Holder{}, &shadow.Holder{}, nil, snapshot.Deps{}, ".", nil)
	policy, err := p.parse(generatedPolicy(1000, 0))
	if err != nil {
		b.Fatal(err)
	}
	deps := snapshot.Deps{Metrics: metrics.New()}
	b.ReportAllocs()
	for b.Loop() {
		s, err := snapshot.Compile(policy, deps, nil)
		if err != nil {
			b.Fatal(err)
		}
		s.Release(nil)
	}
}
