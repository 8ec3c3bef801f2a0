package llmtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/llmtest"
	"github.com/portcullis/portcullis/internal/ai/providers/anthropic"
)

const anthropicKey = "sk-ant-fake-key"

// anthropicPair is the fake and the real provider pointed at it.
func anthropicPair(t *testing.T) (*llmtest.Fake, *anthropic.Provider) {
	t.Helper()
	f := llmtest.NewAnthropic(anthropicKey)
	t.Cleanup(f.Close)
	p, err := anthropic.New(llm.ProviderConfig{BaseURL: f.URL, Key: anthropicKey})
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func chat(system, user string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "claude-test", Messages: []llm.Message{
		{Role: "system", Content: llm.TextContent(system)},
		{Role: "user", Content: llm.TextContent(user)},
	}}
}

var weatherTool = []llm.Tool{{Type: "function", Function: llm.Function{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object"}`)}}}

func TestAnthropicText(t *testing.T) {
	f, p := anthropicPair(t)
	resp, err := p.Chat(context.Background(), chat("Be brief.", "hello there world"))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.Message.Content.Text != "echo: hello there world" || c.FinishReason != "stop" || resp.Model != "claude-test" || !strings.HasPrefix(resp.ID, "msg_") {
		t.Errorf("%+v", resp)
	}
	// Prompt: "Be brief." (2) + "hello there world" (3); answer: 4 words.
	if u := *resp.Usage; u != (llm.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}) {
		t.Errorf("usage %+v", u)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/messages" ||
		reqs[0].Header.Get("X-Api-Key") != anthropicKey || reqs[0].Header.Get("Anthropic-Version") != "2023-06-01" {
		t.Errorf("%+v", reqs)
	}
}

func TestAnthropicMaxTokens(t *testing.T) {
	_, p := anthropicPair(t)
	req := chat("", "one two three four")
	two := 2
	req.MaxTokens = &two
	resp, err := p.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Choices[0]; c.Message.Content.Text != "echo: one" || c.FinishReason != "length" || resp.Usage.CompletionTokens != 2 {
		t.Errorf("%+v %+v", c, resp.Usage)
	}
}

// readAll reads a stream to its end: its text, tool calls' arguments by
// index, finish reason and usage, checking that usage comes last, alone.
func readAll(t *testing.T, s llm.ChunkStream) (text string, args map[int]string, finish string, usage *llm.Usage) {
	t.Helper()
	defer s.Close()
	args = map[int]string{}
	for n := 0; ; n++ {
		c, err := s.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if usage != nil {
			t.Fatal("a chunk after the usage chunk")
		}
		if c.Usage != nil {
			if c.Choices == nil || len(c.Choices) != 0 {
				t.Errorf("usage chunk's choices %v", c.Choices)
			}
			usage = c.Usage
			continue
		}
		d := c.Choices[0].Delta
		if n == 0 && d.Role != "assistant" {
			t.Errorf("first delta %+v", d)
		}
		if d.Content != nil {
			text += *d.Content
		}
		for _, tc := range d.ToolCalls {
			args[*tc.Index] += tc.Function.Arguments
		}
		if fr := c.Choices[0].FinishReason; fr != nil {
			finish = *fr
		}
	}
}

func TestAnthropicStream(t *testing.T) {
	_, p := anthropicPair(t)
	req := chat("Be brief.", "hello there world")
	req.Stream = true
	s, err := p.ChatStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	text, _, finish, usage := readAll(t, s)
	if text != "echo: hello there world" || finish != "stop" {
		t.Errorf("%q %q", text, finish)
	}
	if usage == nil || *usage != (llm.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}) {
		t.Errorf("usage %+v", usage)
	}
}

// The stream's events are the API's, in its order.
func TestAnthropicStreamEvents(t *testing.T) {
	f, _ := anthropicPair(t)
	body := `{"model":"m","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"a b"}]}`
	req, _ := http.NewRequest("POST", f.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("X-Api-Key", anthropicKey)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content-type %q", ct)
	}
	events := llm.NewEventReader(resp.Body)
	var got []string
	for {
		ev, err := events.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var data struct {
			Type    string `json:"type"`
			Message struct {
				Usage map[string]int `json:"usage"`
			} `json:"message"`
			Delta struct {
				Text       string `json:"text"`
				StopReason string `json:"stop_reason"`
			} `json:"delta"`
			Usage map[string]int `json:"usage"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil || data.Type != ev.Type {
			t.Fatalf("%s: %s", ev.Type, ev.Data)
		}
		switch ev.Type {
		case "message_start":
			got = append(got, ev.Type+" "+itoa(data.Message.Usage["input_tokens"])+" "+itoa(data.Message.Usage["output_tokens"]))
		case "content_block_delta":
			got = append(got, ev.Type+" "+data.Delta.Text)
		case "message_delta":
			got = append(got, ev.Type+" "+data.Delta.StopReason+" "+itoa(data.Usage["output_tokens"]))
		default:
			got = append(got, ev.Type)
		}
	}
	want := []string{"message_start 2 1", "content_block_start", "ping", "content_block_delta echo:", "content_block_delta  a",
		"content_block_delta  b", "content_block_stop", "message_delta end_turn 3", "message_stop"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n %q\nwant %q", got, want)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestAnthropicTools(t *testing.T) {
	_, p := anthropicPair(t)
	req := chat("Use tools.", "weather in Paris")
	req.Tools = weatherTool
	resp, err := p.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if !c.Message.Content.Null || len(c.Message.ToolCalls) != 1 || c.FinishReason != "tool_calls" {
		t.Fatalf("%+v", c)
	}
	call := c.Message.ToolCalls[0]
	if call.Function.Name != "get_weather" || call.Function.Arguments != `{"echo":"weather in Paris"}` || !strings.HasPrefix(call.ID, "toolu_") {
		t.Errorf("%+v", call)
	}
	// Prompt: 2 + 3 words; completion: the call (1) and the echoed words (3).
	if u := *resp.Usage; u != (llm.Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}) {
		t.Errorf("usage %+v", u)
	}

	// The round trip: the call and its result go back, and the answer is
	// text, its prompt counted as PromptWords counts the canonical request.
	req.Messages = append(req.Messages,
		llm.Message{Role: "assistant", Content: llm.Content{Null: true}, ToolCalls: []llm.ToolCall{call}},
		llm.Message{Role: "tool", ToolCallID: call.ID, Content: llm.TextContent("sunny and warm")})
	resp, err = p.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	c = resp.Choices[0]
	if c.Message.Content.Text != "echo: weather in Paris" || c.FinishReason != "stop" || len(c.Message.ToolCalls) != 0 {
		t.Errorf("%+v", c)
	}
	want, _ := llmtest.PromptWords(req)
	if resp.Usage.PromptTokens != want || want != 2+3+3+3 {
		t.Errorf("prompt tokens %d, PromptWords %d", resp.Usage.PromptTokens, want)
	}
}

func TestAnthropicStreamTools(t *testing.T) {
	_, p := anthropicPair(t)
	req := chat("", "weather in Paris")
	req.Tools = weatherTool
	s, err := p.ChatStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	text, args, finish, usage := readAll(t, s)
	if text != "" || len(args) != 1 || args[0] != `{"echo":"weather in Paris"}` || finish != "tool_calls" {
		t.Errorf("%q %v %q", text, args, finish)
	}
	if usage == nil || *usage != (llm.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}) {
		t.Errorf("usage %+v", usage)
	}
}

func TestAnthropicFailures(t *testing.T) {
	f, p := anthropicPair(t)
	f.FailNext(529, 429, 500, 400, 0)
	for _, want := range []struct {
		status    int
		retryable bool
	}{{529, true}, {429, true}, {500, true}, {400, false}, {0, true}} {
		_, err := p.Chat(context.Background(), chat("", "hi"))
		var e *llm.Error
		if !errors.As(err, &e) || e.Status != want.status || e.Retryable != want.retryable {
			t.Errorf("want %d: %#v", want.status, err)
		}
	}
	if _, err := p.Chat(context.Background(), chat("", "hi")); err != nil {
		t.Errorf("after the failures: %v", err)
	}

	wrong, _ := anthropic.New(llm.ProviderConfig{BaseURL: f.URL, Key: "sk-ant-wrong"})
	_, err := wrong.Chat(context.Background(), chat("", "hi"))
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Retryable || strings.Contains(err.Error(), "sk-ant-wrong") {
		t.Errorf("wrong key: %#v", err)
	}
}

// The error bodies are Anthropic's, with the type its documentation gives
// each status.
func TestAnthropicErrorBodies(t *testing.T) {
	f, _ := anthropicPair(t)
	post := func(body string, header map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", f.URL+"/v1/messages", strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Message == "" {
			t.Errorf("body %s", b)
		}
		return resp.StatusCode, e.Error.Type
	}
	good := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	headers := map[string]string{"X-Api-Key": anthropicKey, "Anthropic-Version": "2023-06-01"}
	for _, tc := range []struct {
		name   string
		body   string
		header map[string]string
		fail   int
		status int
		kind   string
	}{
		{"wrong key", good, map[string]string{"X-Api-Key": "nope", "Anthropic-Version": "2023-06-01"}, -1, 401, "authentication_error"},
		{"no version", good, map[string]string{"X-Api-Key": anthropicKey}, -1, 400, "invalid_request_error"},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, headers, -1, 400, "invalid_request_error"},
		{"overloaded", good, headers, 529, 529, "overloaded_error"},
		{"rate limit", good, headers, 429, 429, "rate_limit_error"},
		{"server", good, headers, 500, 500, "api_error"},
		{"forbidden", good, headers, 403, 403, "permission_error"},
	} {
		if tc.fail >= 0 {
			f.FailNext(tc.fail)
		}
		if status, kind := post(tc.body, tc.header); status != tc.status || kind != tc.kind {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, kind, tc.status, tc.kind)
		}
	}
}

// A client that hangs up while the fake holds back a chunk ends the
// stream; the fake's handler returns, so Close does not wait.
func TestAnthropicHangUp(t *testing.T) {
	f, p := anthropicPair(t)
	f.ChunkDelay = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.ChatStream(ctx, chat("", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Next(); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("%v", err)
	}
	_ = s.Close()
	if !bytes.Contains(f.Requests()[0].Body, []byte(`"stream":true`)) {
		t.Errorf("%s", f.Requests()[0].Body)
	}
}
