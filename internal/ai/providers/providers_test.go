package providers

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/llmtest"
)

// TestEveryTypeBuilds: each CONTRACT §2 type has a provider; openaiCompatible
// alone needs a base URL.
func TestEveryTypeBuilds(t *testing.T) {
	for _, typ := range []string{"openai", "anthropic", "gemini", "mistral", "qwen", "ollama"} {
		if p, err := New(typ, llm.ProviderConfig{}); err != nil || p == nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	if _, err := New("openaiCompatible", llm.ProviderConfig{}); err == nil {
		t.Error("openaiCompatible without baseURL was accepted")
	}
	if _, err := New("cohere", llm.ProviderConfig{}); err == nil {
		t.Error("an unknown type was accepted")
	}
}

// TestOpenAIFamilyAgainstTheFake: the OpenAI-compatible types all speak to
// an OpenAI server, and a stream's usage arrives whichever asks for it.
func TestOpenAIFamilyAgainstTheFake(t *testing.T) {
	f := llmtest.NewOpenAI("k")
	defer f.Close()
	for _, typ := range []string{"openai", "openaiCompatible", "mistral", "qwen", "ollama"} {
		p, err := New(typ, llm.ProviderConfig{BaseURL: f.URL, Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		var req llm.ChatRequest
		_ = json.Unmarshal([]byte(`{"model":"m","messages":[{"role":"user","content":"a b"}]}`), &req)
		resp, err := p.Chat(context.Background(), &req)
		if err != nil || resp.Choices[0].Message.Content.Text != "echo: a b" || resp.Usage.TotalTokens != 5 {
			t.Fatalf("%s: %+v %v", typ, resp, err)
		}
		s, err := p.ChatStream(context.Background(), &req)
		if err != nil {
			t.Fatal(err)
		}
		var usage *llm.Usage
		for {
			c, err := s.Next()
			if err != nil {
				break
			}
			if c.Usage != nil {
				usage = c.Usage
			}
		}
		s.Close()
		// Mistral's dialect does not send stream_options (Mistral always
		// sends usage; this fake only when asked).
		if want := typ != "mistral"; (usage != nil) != want {
			t.Errorf("%s: stream usage %v", typ, usage)
		}
	}
}

// TestMistralDialectAgainstMistral: against a server that refuses the
// members Mistral refuses and always ends a stream with its usage, the
// mistral type works, streams included, while plain OpenAI's requests are
// refused.
func TestMistralDialectAgainstMistral(t *testing.T) {
	f := llmtest.NewMistral("k")
	defer f.Close()
	var req llm.ChatRequest
	_ = json.Unmarshal([]byte(`{"model":"mistral-small-latest","messages":[{"role":"user","content":"a b c"}],"user":"u1","max_completion_tokens":50}`), &req)
	p, _ := New("mistral", llm.ProviderConfig{BaseURL: f.URL, Key: "k"})
	if resp, err := p.Chat(context.Background(), &req); err != nil || resp.Usage.TotalTokens != 7 {
		t.Fatalf("chat: %+v %v", resp, err)
	}
	s, err := p.ChatStream(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	var usage *llm.Usage
	var chunks int
	for {
		c, err := s.Next()
		if err != nil {
			break
		}
		chunks++
		if c.Usage != nil {
			if len(c.Choices) != 0 {
				t.Fatal("usage not split from the finish chunk")
			}
			usage = c.Usage
		}
	}
	s.Close()
	if usage == nil || usage.TotalTokens != 7 {
		t.Fatalf("stream usage %+v after %d chunks", usage, chunks)
	}
	o, _ := New("openai", llm.ProviderConfig{BaseURL: f.URL, Key: "k"})
	if _, err := o.ChatStream(context.Background(), &req); err == nil {
		t.Fatal("the openai type's stream_options were accepted by Mistral")
	}
}
