package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// upstream is a fake API that records the last request and answers with
// answer (a file in testdata, or the text itself).
type upstream struct {
	srv    *httptest.Server
	header http.Header
	body   map[string]any
	path   string
}

func newUpstream(t *testing.T, status int, contentType, answer string) *upstream {
	t.Helper()
	u := &upstream{}
	if b, err := os.ReadFile("testdata/" + answer); err == nil {
		answer = string(b)
	}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.header, u.path = r.Header.Clone(), r.URL.Path
		raw, _ := io.ReadAll(r.Body)
		u.body = nil
		_ = json.Unmarshal(raw, &u.body)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func request(t *testing.T, body string) *llm.ChatRequest {
	t.Helper()
	var r llm.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func drain(t *testing.T, s llm.ChunkStream) ([]*llm.ChatChunk, error) {
	t.Helper()
	defer s.Close()
	var out []*llm.ChatChunk
	for {
		c, err := s.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

func TestChatPassesUnknownMembersThrough(t *testing.T) {
	up := newUpstream(t, 200, "application/json", `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","system_fingerprint":"fp","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	p, err := New(llm.ProviderConfig{BaseURL: up.srv.URL + "/v1", Key: "sk-test"}, OpenAI)
	if err != nil {
		t.Fatal(err)
	}
	req := request(t, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi","x_custom":1}],"seed":7,"response_format":{"type":"json_object"},"logprobs":true}`)
	resp, err := p.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if up.path != "/v1/chat/completions" || up.header.Get("Authorization") != "Bearer sk-test" {
		t.Fatalf("path %q, auth %q", up.path, up.header.Get("Authorization"))
	}
	for _, k := range []string{"seed", "response_format", "logprobs"} {
		if _, ok := up.body[k]; !ok {
			t.Errorf("member %s was not passed through: %v", k, up.body)
		}
	}
	if _, ok := up.body["stream"]; ok {
		t.Errorf("a plain call must not send stream: %v", up.body)
	}
	msg := up.body["messages"].([]any)[0].(map[string]any)
	if msg["x_custom"] != float64(1) {
		t.Errorf("a message's unknown member was dropped: %v", msg)
	}
	out, _ := json.Marshal(resp)
	for _, want := range []string{`"system_fingerprint":"fp"`, `"refusal":null`, `"logprobs":null`, `"prompt_tokens":3`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("answer lost %s: %s", want, out)
		}
	}
}

func TestStreamAsksForUsage(t *testing.T) {
	up := newUpstream(t, 200, "text/event-stream", "stream_usage.txt")
	p, _ := New(llm.ProviderConfig{BaseURL: up.srv.URL + "/v1", Key: "k"}, OpenAI)
	s, err := p.ChatStream(context.Background(), request(t, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(t, s)
	if err != nil {
		t.Fatal(err)
	}
	so, _ := up.body["stream_options"].(map[string]any)
	if up.body["stream"] != true || so["include_usage"] != true {
		t.Fatalf("stream options not asked for: %v", up.body)
	}
	last := chunks[len(chunks)-1]
	if len(chunks) != 4 || len(last.Choices) != 0 || last.Usage == nil || last.Usage.TotalTokens != 10 {
		t.Fatalf("got %d chunks, last %+v", len(chunks), last)
	}
	if *chunks[1].Choices[0].Delta.Content != "Hello" {
		t.Errorf("content %q", *chunks[1].Choices[0].Delta.Content)
	}
}

func TestMistralDialect(t *testing.T) {
	up := newUpstream(t, 200, "text/event-stream", "stream_mistral.txt")
	p, _ := New(llm.ProviderConfig{BaseURL: up.srv.URL + "/v1", Key: "k"}, Dialect{UsageAlways: true, Unsupported: []string{"user", "logprobs"}})
	s, err := p.ChatStream(context.Background(), request(t, `{"model":"mistral-small-latest","messages":[{"role":"user","content":"hi"}],"stream":true,"user":"u1","logprobs":true,"max_completion_tokens":9}`))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(t, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stream_options", "user", "logprobs", "max_completion_tokens"} {
		if _, ok := up.body[k]; ok {
			t.Errorf("%s must not be sent to this dialect: %v", k, up.body)
		}
	}
	if up.body["max_tokens"] != float64(9) {
		t.Errorf("max_completion_tokens not sent as max_tokens: %v", up.body)
	}
	// The last chunk carried choices and usage: split in two.
	if len(chunks) != 4 {
		t.Fatalf("got %d chunks", len(chunks))
	}
	fin, usage := chunks[2], chunks[3]
	if fin.Usage != nil || *fin.Choices[0].FinishReason != "stop" || len(usage.Choices) != 0 || usage.Usage.TotalTokens != 12 {
		t.Fatalf("split wrong: %+v / %+v", fin, usage)
	}
}

func TestStreamFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		body      string
		retryable bool
	}{
		"error event":   {"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n", true},
		"cut short":     {"data: {\"id\":\"1\",\"object\":\"chat.completion.chunk\",\"choices\":[]}\n\n", true},
		"not json":      {"data: {nope\n\n", true},
		"no event data": {"", true},
	} {
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t, 200, "text/event-stream", tc.body)
			p, _ := New(llm.ProviderConfig{BaseURL: up.srv.URL}, Compatible)
			s, err := p.ChatStream(context.Background(), request(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = drain(t, s)
			var pe *llm.Error
			if !errors.As(err, &pe) || pe.Retryable != tc.retryable {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	for status, retryable := range map[int]bool{400: false, 401: false, 403: false, 404: false, 429: true, 500: true, 503: true} {
		up := newUpstream(t, status, "application/json", `{"error":{"message":"Incorrect API key provided: sk-abc***","type":"x"}}`)
		p, _ := New(llm.ProviderConfig{BaseURL: up.srv.URL, Key: "sk-secret"}, Compatible)
		_, err := p.Chat(context.Background(), request(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		var pe *llm.Error
		if !errors.As(err, &pe) || pe.Status != status || pe.Retryable != retryable {
			t.Errorf("%d: err %v", status, err)
		}
		if strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("the key leaked into an error: %v", err)
		}
	}
}

func TestBaseURLRequiredForCompatible(t *testing.T) {
	if _, err := New(llm.ProviderConfig{}, Compatible); err == nil {
		t.Fatal("an openaiCompatible provider without baseURL was accepted")
	}
}
