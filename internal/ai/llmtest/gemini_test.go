package llmtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/providers/gemini"
)

const geminiKey = "AIzaSyFAKE-gemini-key"

func newGeminiPair(t *testing.T) (*Fake, *gemini.Provider) {
	t.Helper()
	f := NewGemini(geminiKey)
	t.Cleanup(f.Close)
	p, err := gemini.New(llm.ProviderConfig{BaseURL: f.URL, Key: geminiKey})
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func geminiChat(t *testing.T, body string) *llm.ChatRequest {
	t.Helper()
	var r llm.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

const geminiHello = `{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"Be brief please"},{"role":"user","content":"hello there world"}]}`

func TestGeminiText(t *testing.T) {
	f, p := newGeminiPair(t)
	resp, err := p.Chat(context.Background(), geminiChat(t, geminiHello))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.Message.Content.Text != "echo: hello there world" || c.FinishReason != "stop" || resp.Model != "gemini-2.5-flash" {
		t.Errorf("got %+v", resp)
	}
	if u := resp.Usage; u == nil || *u != (llm.Usage{PromptTokens: 6, CompletionTokens: 4, TotalTokens: 10}) {
		t.Errorf("usage %+v, want 6+4", resp.Usage)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	if r.Header.Get("x-goog-api-key") != geminiKey || strings.Contains(r.Path, geminiKey) || strings.Contains(string(r.Body), geminiKey) {
		t.Error("the key is not (only) in its header")
	}

	resp, err = p.Chat(context.Background(), geminiChat(t, `{"model":"models/gemini-2.5-flash","max_tokens":2,"messages":[{"role":"user","content":"hello there world"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Choices[0]; c.Message.Content.Text != "echo: hello" || c.FinishReason != "length" || resp.Usage.CompletionTokens != 2 || resp.Usage.PromptTokens != 3 {
		t.Errorf("cut answer: %+v usage %+v", c, resp.Usage)
	}
}

// readStream reads a stream to its end.
func readStream(t *testing.T, s llm.ChunkStream) []*llm.ChatChunk {
	t.Helper()
	defer s.Close()
	var out []*llm.ChatChunk
	for {
		c, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func TestGeminiStream(t *testing.T) {
	f, p := newGeminiPair(t)
	s, err := p.ChatStream(context.Background(), geminiChat(t, geminiHello))
	if err != nil {
		t.Fatal(err)
	}
	chunks := readStream(t, s)
	var text strings.Builder
	var contentChunks int
	var finish string
	for i, c := range chunks[:len(chunks)-1] {
		d := c.Choices[0].Delta
		if (i == 0) != (d.Role == "assistant") {
			t.Errorf("chunk %d role %q", i, d.Role)
		}
		if d.Content != nil {
			text.WriteString(*d.Content)
			contentChunks++
		}
		if fr := c.Choices[0].FinishReason; fr != nil {
			finish = *fr
		}
		if c.ID != chunks[0].ID || c.Model != "gemini-2.5-flash" {
			t.Errorf("chunk %d: id %q model %q", i, c.ID, c.Model)
		}
	}
	if text.String() != "echo: hello there world" || contentChunks != 4 || finish != "stop" {
		t.Errorf("text %q in %d chunks, finish %q", text.String(), contentChunks, finish)
	}
	last := chunks[len(chunks)-1]
	if last.Choices == nil || len(last.Choices) != 0 || last.Usage == nil || *last.Usage != (llm.Usage{PromptTokens: 6, CompletionTokens: 4, TotalTokens: 10}) {
		t.Errorf("last chunk %+v usage %+v", last, last.Usage)
	}
	if r := f.Requests()[0]; r.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" {
		t.Errorf("path %s", r.Path)
	}
}

const geminiTools = `{"model":"gemini-2.5-flash","messages":[{"role":"system","content":"Be brief please"},{"role":"user","content":"hello there world"}],
	"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}},{"type":"function","function":{"name":"other"}}]}`

var generatedCallID = regexp.MustCompile(`^call_[0-9a-f]{24}$`)

func TestGeminiTools(t *testing.T) {
	_, p := newGeminiPair(t)
	resp, err := p.Chat(context.Background(), geminiChat(t, geminiTools))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.FinishReason != "tool_calls" || !c.Message.Content.Null || len(c.Message.ToolCalls) != 1 {
		t.Fatalf("got %+v", c)
	}
	call := c.Message.ToolCalls[0]
	// The fake's call has no id, as the real API commonly sends it.
	if !generatedCallID.MatchString(call.ID) || call.Function.Name != "lookup" || call.Function.Arguments != `{"echo":"hello there world"}` {
		t.Errorf("call %+v", call)
	}
	if *resp.Usage != (llm.Usage{PromptTokens: 6, CompletionTokens: 4, TotalTokens: 10}) {
		t.Errorf("usage %+v", resp.Usage)
	}

	s, err := p.ChatStream(context.Background(), geminiChat(t, geminiTools))
	if err != nil {
		t.Fatal(err)
	}
	chunks := readStream(t, s)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks, want call, finish, usage", len(chunks))
	}
	tc := chunks[0].Choices[0].Delta.ToolCalls
	if len(tc) != 1 || *tc[0].Index != 0 || !generatedCallID.MatchString(tc[0].ID) || tc[0].Function.Arguments != `{"echo":"hello there world"}` {
		t.Errorf("call delta %+v", tc)
	}
	if fr := chunks[1].Choices[0].FinishReason; fr == nil || *fr != "tool_calls" {
		t.Errorf("finish %v", fr)
	}
	if u := chunks[2].Usage; u == nil || *u != (llm.Usage{PromptTokens: 6, CompletionTokens: 4, TotalTokens: 10}) {
		t.Errorf("usage %+v", u)
	}

	// The tool's result goes back; the answer is text, its prompt counted
	// as the OpenAI fake counts the same conversation.
	req := geminiChat(t, geminiTools)
	req.Messages = append(req.Messages,
		llm.Message{Role: "assistant", Content: llm.Content{Null: true}, ToolCalls: []llm.ToolCall{call}},
		llm.Message{Role: "tool", ToolCallID: call.ID, Content: llm.TextContent("sunny and warm")})
	resp, err = p.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := PromptWords(req)
	if c := resp.Choices[0]; c.Message.Content.Text != "echo: hello there world" || c.FinishReason != "stop" {
		t.Errorf("after the tool: %+v", c)
	}
	if *resp.Usage != (llm.Usage{PromptTokens: prompt, CompletionTokens: 4, TotalTokens: prompt + 4}) || prompt != 12 {
		t.Errorf("usage %+v, want prompt %d (12)", resp.Usage, prompt)
	}
}

func TestGeminiFailures(t *testing.T) {
	f, p := newGeminiPair(t)
	f.FailNext(429, 503, 400, 0)
	for _, want := range []struct {
		status    int
		retryable bool
	}{{429, true}, {503, true}, {400, false}, {0, true}} {
		_, err := p.Chat(context.Background(), geminiChat(t, geminiHello))
		var e *llm.Error
		if !errors.As(err, &e) || e.Status != want.status || e.Retryable != want.retryable {
			t.Errorf("got %v, want status %d retryable %v", err, want.status, want.retryable)
		}
	}
	if _, err := p.Chat(context.Background(), geminiChat(t, geminiHello)); err != nil {
		t.Errorf("after the failures: %v", err)
	}
	f.FailNext(500)
	if _, err := p.ChatStream(context.Background(), geminiChat(t, geminiHello)); err == nil {
		t.Error("stream: no error")
	}

	bad, _ := gemini.New(llm.ProviderConfig{BaseURL: f.URL, Key: "wrong"})
	_, err := bad.Chat(context.Background(), geminiChat(t, geminiHello))
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden || e.Retryable {
		t.Errorf("wrong key: %v", err)
	}

	// The right key in the URL is refused all the same.
	resp, err := http.Post(f.URL+"/v1beta/models/m:generateContent?key="+geminiKey, "application/json", strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var g struct {
		Error struct {
			Code   int    `json:"code"`
			Status string `json:"status"`
		} `json:"error"`
	}
	if resp.StatusCode != http.StatusForbidden || json.Unmarshal(body, &g) != nil || g.Error.Code != 403 || g.Error.Status != "PERMISSION_DENIED" {
		t.Errorf("key in the URL: %d %s", resp.StatusCode, body)
	}
}

func TestGeminiEmbeddings(t *testing.T) {
	f, p := newGeminiPair(t)
	resp, err := p.Embeddings(context.Background(), &llm.EmbeddingsRequest{Model: "gemini-embedding-001", Input: json.RawMessage(`["one two","three"]`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 2 || string(resp.Data[0].Embedding) != Vector("one two") || string(resp.Data[1].Embedding) != Vector("three") || resp.Usage != nil {
		t.Errorf("got %+v", resp)
	}
	if r := f.Requests()[0]; r.Path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" {
		t.Errorf("path %s", r.Path)
	}
	resp, err = p.Embeddings(context.Background(), &llm.EmbeddingsRequest{Model: "models/gemini-embedding-001", Input: json.RawMessage(`"one two"`), EncodingFormat: "base64"})
	if err != nil {
		t.Fatal(err)
	}
	// Vector("one two") is [7.5,2.25,-0.125]: exact in float32.
	if got := string(resp.Data[0].Embedding); got != `"AADwQAAAEEAAAAC+"` {
		t.Errorf("base64 embedding %s", got)
	}
}

func TestGeminiHangUp(t *testing.T) {
	f, p := newGeminiPair(t)
	f.ChunkDelay = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.ChatStream(ctx, geminiChat(t, geminiHello))
		done <- err
	}()
	for len(f.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the cancellation", err)
	}
}
