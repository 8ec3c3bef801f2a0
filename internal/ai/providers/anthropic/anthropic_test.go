package anthropic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

const testKey = "sk-ant-test-0123456789"

// goldenCases are the cases testdata must hold (a missing one fails).
var goldenCases = []string{"text", "system", "tools_call", "tool_result", "image", "cache_usage", "max_tokens", "stream_text", "stream_tool_use"}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeJSON decodes b for a comparison that ignores formatting and order,
// dropping the created member (the clock's).
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if m, ok := v.(map[string]any); ok {
		delete(m, "created")
	}
	return v
}

func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !reflect.DeepEqual(decodeJSON(t, got), decodeJSON(t, want)) {
		t.Errorf("%s:\n got %s\nwant %s", what, compact(got), compact(want))
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// upstream is a fake Messages API that checks each request's method, path
// and headers, hands its body to check, and answers with answer.
func upstream(t *testing.T, key string, check func(body []byte), answer func(w http.ResponseWriter)) *Provider {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			t.Errorf("request %s %s, want POST /v1/messages", r.Method, r.URL.Path)
		}
		if got, ok := r.Header["X-Api-Key"]; (key == "" && ok) || (key != "" && (len(got) != 1 || got[0] != key)) {
			t.Errorf("x-api-key %q, want %q", got, key)
		}
		if got := r.Header.Get("Anthropic-Version"); got != "2023-06-01" {
			t.Errorf("anthropic-version %q", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("content-type %q", got)
		}
		body, _ := io.ReadAll(r.Body)
		if check != nil {
			check(body)
		}
		answer(w)
	}))
	t.Cleanup(srv.Close)
	p, err := New(llm.ProviderConfig{BaseURL: srv.URL, Key: key, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// answerWith answers status with body as JSON, or as an event stream when
// it is one.
func answerWith(status int, body []byte) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if bytes.HasPrefix(body, []byte("event:")) {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

func TestGolden(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			var req llm.ChatRequest
			if err := json.Unmarshal(read(t, filepath.Join(dir, "request.json")), &req); err != nil {
				t.Fatal(err)
			}
			wantUp := read(t, filepath.Join(dir, "upstream_request.json"))
			check := func(body []byte) { sameJSON(t, "upstream request", body, wantUp) }
			ctx := context.Background()

			if req.Stream {
				p := upstream(t, testKey, check, answerWith(200, read(t, filepath.Join(dir, "upstream_stream.txt"))))
				s, err := p.ChatStream(ctx, &req)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				got := collect(t, s)
				want := lines(t, read(t, filepath.Join(dir, "stream.txt")))
				if len(got) != len(want) {
					t.Errorf("%d chunks, want %d", len(got), len(want))
				}
				for i := range min(len(got), len(want)) {
					sameJSON(t, fmt.Sprintf("chunk %d", i), got[i], want[i])
				}
				return
			}
			p := upstream(t, testKey, check, answerWith(200, read(t, filepath.Join(dir, "upstream_response.json"))))
			resp, err := p.Chat(ctx, &req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Created <= 0 {
				t.Errorf("created %d", resp.Created)
			}
			got, _ := json.Marshal(resp)
			sameJSON(t, "response", got, read(t, filepath.Join(dir, "response.json")))
		})
	}
}

// collect reads s to its end, returning the chunks as JSON: they must all
// share one id, created and model, and the stream must end with io.EOF.
func collect(t *testing.T, s llm.ChunkStream) [][]byte {
	t.Helper()
	var out [][]byte
	var first *llm.ChatChunk
	for {
		c, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d chunks: %v", len(out), err)
		}
		if first == nil {
			first = c
		}
		if c.ID != first.ID || c.Created != first.Created || c.Model != first.Model || c.Object != "chat.completion.chunk" || c.Created <= 0 {
			t.Errorf("chunk %d: %s %d %s %s", len(out), c.ID, c.Created, c.Model, c.Object)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v", err)
	}
	return out
}

func lines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	return out
}

func textRequest(stream bool) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "claude-sonnet-4-5", Stream: stream, Messages: []llm.Message{{Role: "user", Content: llm.TextContent("Hi")}}}
}

// anthropicError is Anthropic's error body.
func anthropicError(kind, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": kind, "message": msg}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
	return b
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		kind      string
		retryable bool
	}{
		{429, "rate_limit_error", true},
		{529, "overloaded_error", true},
		{500, "api_error", true},
		{400, "invalid_request_error", false},
		{401, "authentication_error", false},
	} {
		for _, stream := range []bool{false, true} {
			p := upstream(t, testKey, nil, answerWith(tc.status, anthropicError(tc.kind, "the "+tc.kind)))
			var err error
			if stream {
				_, err = p.ChatStream(context.Background(), textRequest(true))
			} else {
				_, err = p.Chat(context.Background(), textRequest(false))
			}
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("%d: %v, not an *llm.Error", tc.status, err)
			}
			if e.Status != tc.status || e.Retryable != tc.retryable {
				t.Errorf("%d stream=%v: status %d retryable %v", tc.status, stream, e.Status, e.Retryable)
			}
			if !strings.Contains(e.Msg, "the "+tc.kind) {
				t.Errorf("%d: message %q does not summarize the body", tc.status, e.Msg)
			}
		}
	}
}

// The key never shows in an error, even one whose cause names the URL.
func TestErrorsHideKey(t *testing.T) {
	p, err := New(llm.ProviderConfig{BaseURL: "http://127.0.0.1:1", Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Chat(context.Background(), textRequest(false))
	var e *llm.Error
	if !errors.As(err, &e) || !e.Retryable || e.Status != 0 {
		t.Fatalf("%v", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("the key in %q", err)
	}
}

func TestNoKeyNoHeader(t *testing.T) {
	p := upstream(t, "", nil, answerWith(200, read(t, "testdata/text/upstream_response.json")))
	if _, err := p.Chat(context.Background(), textRequest(false)); err != nil {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	p, err := New(llm.ProviderConfig{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.endpoint.URL(messagesPath); got != "https://api.anthropic.com/v1/messages" {
		t.Errorf("default URL %s", got)
	}
	for _, bad := range []string{"::", "ftp://example.com", "example.com", "http://"} {
		if _, err := New(llm.ProviderConfig{BaseURL: bad, Key: testKey}); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), testKey) {
			t.Errorf("the key in %q", err)
		}
	}
}

func TestEmbeddingsUnsupported(t *testing.T) {
	p, _ := New(llm.ProviderConfig{})
	if _, err := p.Embeddings(context.Background(), &llm.EmbeddingsRequest{Model: "x"}); !errors.Is(err, llm.ErrUnsupported) {
		t.Errorf("%v", err)
	}
}

// A request the Messages API cannot express fails before any call, for
// good: no other attempt would do better.
func TestUnsupportedRequests(t *testing.T) {
	user := func(c llm.Content) []llm.Message { return []llm.Message{{Role: "user", Content: c}} }
	for name, req := range map[string]*llm.ChatRequest{
		"n":          {Model: "m", Messages: user(llm.TextContent("hi")), Extra: map[string]json.RawMessage{"n": json.RawMessage("2")}},
		"role":       {Model: "m", Messages: []llm.Message{{Role: "function", Content: llm.TextContent("x")}}},
		"data URL":   {Model: "m", Messages: user(llm.Content{IsParts: true, Parts: []llm.Part{{Type: "image_url", ImageURL: &llm.ImageURL{URL: "data:image/png,abc"}}}})},
		"part type":  {Model: "m", Messages: user(llm.Content{IsParts: true, Parts: []llm.Part{{Type: "input_audio"}}})},
		"arguments":  {Model: "m", Messages: []llm.Message{{Role: "assistant", Content: llm.Content{Null: true}, ToolCalls: []llm.ToolCall{{ID: "a", Function: llm.FunctionCall{Name: "f", Arguments: "[1]"}}}}}},
		"stop":       {Model: "m", Messages: user(llm.TextContent("hi")), Stop: json.RawMessage("3")},
		"tool type":  {Model: "m", Messages: user(llm.TextContent("hi")), Tools: []llm.Tool{{Type: "custom"}}},
		"toolchoice": {Model: "m", Messages: user(llm.TextContent("hi")), Tools: []llm.Tool{{Type: "function", Function: llm.Function{Name: "f"}}}, ToolChoice: json.RawMessage(`"sometimes"`)},
	} {
		var calls atomic.Int32
		p := upstream(t, testKey, func([]byte) { calls.Add(1) }, answerWith(200, nil))
		for _, stream := range []bool{false, true} {
			var err error
			if stream {
				_, err = p.ChatStream(context.Background(), req)
			} else {
				_, err = p.Chat(context.Background(), req)
			}
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 0 || e.Retryable || e.Msg == "" {
				t.Errorf("%s: %#v", name, err)
			}
		}
		if calls.Load() != 0 {
			t.Errorf("%s: sent", name)
		}
	}
}

func TestToolChoice(t *testing.T) {
	for _, tc := range []struct{ choice, parallel, want string }{
		{"", "", "null"},
		{`"auto"`, "", `{"type":"auto"}`},
		{`"required"`, "", `{"type":"any"}`},
		{`"none"`, "", `{"type":"none"}`},
		{`{"type":"function","function":{"name":"f"}}`, "", `{"type":"tool","name":"f"}`},
		{"", "false", `{"type":"auto","disable_parallel_tool_use":true}`},
		{"", "true", "null"},
		{`"required"`, "false", `{"type":"any","disable_parallel_tool_use":true}`},
		{`"none"`, "false", `{"type":"none"}`},
	} {
		req := &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: llm.TextContent("hi")}},
			Tools: []llm.Tool{{Type: "function", Function: llm.Function{Name: "f"}}}}
		if tc.choice != "" {
			req.ToolChoice = json.RawMessage(tc.choice)
		}
		if tc.parallel != "" {
			req.Extra = map[string]json.RawMessage{"parallel_tool_calls": json.RawMessage(tc.parallel)}
		}
		out, err := translateRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(out.ToolChoice); string(got) != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.choice, tc.parallel, got, tc.want)
		}
	}
	// Without tools there is nothing to choose: neither is sent.
	req := &llm.ChatRequest{Model: "m", Messages: []llm.Message{{Role: "user", Content: llm.TextContent("hi")}}, ToolChoice: json.RawMessage(`"required"`)}
	if out, err := translateRequest(req); err != nil || out.ToolChoice != nil {
		t.Errorf("%v %v", out.ToolChoice, err)
	}
}

func TestFinishReason(t *testing.T) {
	for stop, want := range map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
		"tool_use": "tool_calls", "refusal": "content_filter", "something_new": "stop",
	} {
		if got := finishReason(stop); got != want {
			t.Errorf("%s: %s, want %s", stop, got, want)
		}
	}
}

// An answer with text around tool calls keeps both; a non-message fails.
func TestResponseShapes(t *testing.T) {
	m := &message{ID: "msg_1", Type: "message", Model: "m", StopReason: "tool_use", Content: []contentBlock{
		{Type: "thinking"}, {Type: "text", Text: "Let me "}, {Type: "text", Text: "look."},
		{Type: "tool_use", ID: "toolu_1", Name: "f", Input: json.RawMessage(`{ "a" : [1, 2] }`)},
		{Type: "tool_use", ID: "toolu_2", Name: "g"},
	}}
	r, err := translateResponse(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	msg := r.Choices[0].Message
	if msg.Content.Text != "Let me look." || len(msg.ToolCalls) != 2 || msg.ToolCalls[0].Function.Arguments != `{"a":[1,2]}` || msg.ToolCalls[1].Function.Arguments != "{}" {
		t.Errorf("%+v", msg)
	}
	if _, err := translateResponse(&message{Type: "error"}, 1); err == nil {
		t.Error("an error body taken for a message")
	}
	empty, _ := translateResponse(&message{Type: "message", StopReason: "end_turn"}, 1)
	if b, _ := json.Marshal(empty.Choices[0].Message.Content); string(b) != `""` {
		t.Errorf("empty answer's content %s", b)
	}
}

// streamOf is a stream over body, as ChatStream makes it.
func streamOf(body string) *stream {
	return newStream(context.Background(), io.NopCloser(strings.NewReader(body)), 1700000000)
}

const streamHead = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"

func TestStreamErrorEvent(t *testing.T) {
	for _, tc := range []struct {
		kind      string
		status    int
		retryable bool
	}{
		{"overloaded_error", 529, true},
		{"api_error", 500, true},
		{"rate_limit_error", 429, true},
		{"invalid_request_error", 400, false},
		{"some_new_error", 0, false},
	} {
		s := streamOf(streamHead + "event: error\ndata: " + string(anthropicError(tc.kind, "Overloaded")) + "\n\n")
		n := 0
		var err error
		for err == nil {
			_, err = s.Next()
			n++
		}
		var e *llm.Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Retryable != tc.retryable || !strings.Contains(e.Msg, tc.kind) {
			t.Errorf("%s: %#v", tc.kind, err)
		}
		if n != 3 {
			t.Errorf("%s: %d chunks before the error, want 2", tc.kind, n-1)
		}
		if _, again := s.Next(); again != err {
			t.Errorf("%s: Next after the error: %v", tc.kind, again)
		}
	}
}

func TestStreamTruncated(t *testing.T) {
	golden := string(read(t, "testdata/stream_text/upstream_stream.txt"))
	stop := strings.Index(golden, "event: message_stop")
	for name, body := range map[string]string{
		"before message_stop": golden[:stop],
		"inside an event":     golden[:stop-20],
		"empty":               "",
		"not SSE":             `{"type":"error"}`,
	} {
		s := streamOf(body)
		var err error
		for err == nil {
			_, err = s.Next()
		}
		var e *llm.Error
		if !errors.As(err, &e) || !e.Retryable || e.Status != 0 {
			t.Errorf("%s: %#v", name, err)
		}
	}
}

// Malformed and out-of-order events end the stream with a ProtocolError;
// events of types added later are skipped.
func TestStreamProtocol(t *testing.T) {
	for name, tc := range map[string]struct {
		body string
		ok   bool
	}{
		"delta first":       {"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n", false},
		"bad JSON":          {streamHead + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n\n", false},
		"second start":      {streamHead + strings.SplitAfter(streamHead, "\n\n")[0], false},
		"input of text":     {streamHead + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n", false},
		"new event skipped": {"event: future\ndata: {\"type\":\"future\",\"delta\":7}\n\n" + streamHead + "event: future\ndata: {\"type\":\"future\",\"index\":\"x\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", true},
	} {
		s := streamOf(tc.body)
		var err error
		for err == nil {
			_, err = s.Next()
		}
		var e *llm.Error
		switch {
		case tc.ok && err != io.EOF:
			t.Errorf("%s: %v", name, err)
		case !tc.ok && (!errors.As(err, &e) || e.Msg != llm.ProtocolError(nil).Msg):
			t.Errorf("%s: %#v", name, err)
		}
	}
}

// Closing a stream mid-way closes the upstream connection: the server sees
// its client go.
func TestStreamClose(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, streamHead)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	p, _ := New(llm.ProviderConfig{BaseURL: srv.URL, Key: testKey, Client: srv.Client()})
	s, err := p.ChatStream(context.Background(), textRequest(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-gone
	_ = s.Close() // a second Close is harmless
}

// Cancelling the context ends a stream with the cancellation, not as a
// fault of the provider.
func TestStreamCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, streamHead)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	p, _ := New(llm.ProviderConfig{BaseURL: srv.URL, Client: srv.Client()})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.ChatStream(ctx, textRequest(true))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	_, err = s.Next()
	var e *llm.Error
	if !errors.As(err, &e) || !errors.Is(err, context.Canceled) {
		t.Errorf("%#v", err)
	}
}
