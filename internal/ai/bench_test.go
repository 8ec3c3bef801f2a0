package ai

import (
	"context"
	"testing"
)

// BenchmarkChat is one non-streaming chat completion through a route to a
// fake provider on loopback: the front's own cost plus one local HTTP call.
func BenchmarkChat(b *testing.B) {
	t := &testing.T{}
	p, _ := fakeProvider(t, "oa", "m1")
	rt := newRoute(t, Config{Providers: []*Provider{p}})
	body := chatBody("m1", "say hello to the benchmark in five words", `,"max_tokens":16`)
	b.ReportAllocs()
	for b.Loop() {
		w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", body, Call{})
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
