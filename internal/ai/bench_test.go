package ai

import (
	"encoding/json"
	"io"

	"context"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
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

// BenchmarkDirect is BenchmarkChat's provider call alone, for comparison.
func BenchmarkDirect(b *testing.B) {
	t := &testing.T{}
	p, _ := fakeProvider(t, "oa", "m1")
	var req llm.ChatRequest
	_ = json.Unmarshal([]byte(chatBody("m1", "say hello to the benchmark in five words", `,"max_tokens":16`)), &req)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.API.Chat(context.Background(), &req); err != nil {
			b.Fatal(err)
		}
	}
}

// instant answers at once, without HTTP: what the front itself costs.
type instant struct{}

func (instant) Chat(context.Context, *llm.ChatRequest) (*llm.ChatResponse, error) {
	return &llm.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Created: 1, Model: "m1",
		Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: llm.TextContent("Hello there, benchmark friend!")}, FinishReason: "stop"}},
		Usage:   &llm.Usage{PromptTokens: 20, CompletionTokens: 6, TotalTokens: 26}}, nil
}

func (instant) ChatStream(context.Context, *llm.ChatRequest) (llm.ChunkStream, error) {
	return nil, llm.ErrUnsupported
}

func (instant) Embeddings(context.Context, *llm.EmbeddingsRequest) (*llm.EmbeddingsResponse, error) {
	return nil, llm.ErrUnsupported
}

// BenchmarkFront is the front's own work on a chat completion: decoding,
// resolving, encoding, metering (the provider answers at once).
func BenchmarkFront(b *testing.B) {
	t := &testing.T{}
	rt := newRoute(t, Config{Providers: []*Provider{{Name: "i", API: instant{}, Models: []string{"m1"}}}})
	body := chatBody("m1", "say hello to the benchmark in five words", `,"max_tokens":16`)
	b.ReportAllocs()
	for b.Loop() {
		if w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", body, Call{}); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// chunks is a ChunkStream of n text chunks and a usage chunk, at once.
type chunks struct{ n, i int }

func (c *chunks) Next() (*llm.ChatChunk, error) {
	c.i++
	switch {
	case c.i <= c.n:
		text := " word"
		return &llm.ChatChunk{ID: "chatcmpl-1", Object: "chat.completion.chunk", Created: 1, Model: "m1",
			Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
	case c.i == c.n+1:
		return &llm.ChatChunk{ID: "chatcmpl-1", Choices: []llm.ChunkChoice{}, Usage: &llm.Usage{PromptTokens: 20, CompletionTokens: c.n, TotalTokens: 20 + c.n}}, nil
	}
	return nil, io.EOF
}

func (c *chunks) Close() error { return nil }

type instantStream struct{ instant }

func (instantStream) ChatStream(context.Context, *llm.ChatRequest) (llm.ChunkStream, error) {
	return &chunks{n: 10}, nil
}

// BenchmarkFrontStream is the front's own work on a streamed completion of
// ten chunks (the provider answers at once).
func BenchmarkFrontStream(b *testing.B) {
	t := &testing.T{}
	rt := newRoute(t, Config{Providers: []*Provider{{Name: "i", API: instantStream{}, Models: []string{"m1"}}}})
	body := chatBody("m1", "say hello to the benchmark in five words", `,"stream":true`)
	b.ReportAllocs()
	for b.Loop() {
		if w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", body, Call{}); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
