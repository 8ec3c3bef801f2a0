package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

func chatRequest(t *testing.T, body string) *llm.ChatRequest {
	t.Helper()
	var r llm.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestNew(t *testing.T) {
	p, err := New(llm.ProviderConfig{Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.methodURL("gemini-2.5-flash", "generateContent", nil); got != "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Errorf("default URL = %s", got)
	}
	if p.ep.Client != http.DefaultClient {
		t.Error("no client: want http.DefaultClient")
	}
	for _, base := range []string{"ftp://example.com", "example.com/gemini", "http://", "https://example.com/?key=AIza", "https://user:pw@example.com", "://bad"} {
		_, err := New(llm.ProviderConfig{BaseURL: base, Key: "AIza"})
		if err == nil {
			t.Errorf("New(%q): no error", base)
		} else if strings.Contains(err.Error(), "AIza") || strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%q): the error %q quotes a credential", base, err)
		}
	}
	p, _ = New(llm.ProviderConfig{})
	if len(p.ep.Header) != 0 {
		t.Errorf("no key: headers %v, want none", p.ep.Header)
	}
}

func TestMethodURL(t *testing.T) {
	p, err := New(llm.ProviderConfig{BaseURL: "https://proxy.example.com/google/", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ model, method, want string }{
		{"gemini-2.5-flash", "generateContent", "https://proxy.example.com/google/v1beta/models/gemini-2.5-flash:generateContent"},
		{"models/gemini-2.5-flash", "generateContent", "https://proxy.example.com/google/v1beta/models/gemini-2.5-flash:generateContent"},
		{"../../files/x?y#z", "generateContent", "https://proxy.example.com/google/v1beta/models/..%2F..%2Ffiles%2Fx%3Fy%23z:generateContent"},
		{"tuned models/a b", "batchEmbedContents", "https://proxy.example.com/google/v1beta/models/tuned%20models%2Fa%20b:batchEmbedContents"},
	} {
		if got := p.methodURL(tc.model, tc.method, nil); got != tc.want {
			t.Errorf("methodURL(%q) = %s, want %s", tc.model, got, tc.want)
		}
	}
	if got := p.methodURL("m", "streamGenerateContent", map[string][]string{"alt": {"sse"}}); got != "https://proxy.example.com/google/v1beta/models/m:streamGenerateContent?alt=sse" {
		t.Errorf("stream URL = %s", got)
	}
}

func TestModelEscapedOnTheWire(t *testing.T) {
	u := &upstream{wantPath: "/v1beta/models/a%2Fb:generateContent", body: readFile(t, "testdata/text/upstream_response.json")}
	p := newUpstream(t, u)
	if _, err := p.Chat(context.Background(), chatRequest(t, `{"model":"a/b","messages":[{"role":"user","content":"hi"}]}`)); err != nil {
		t.Fatal(err)
	}
}

// googleError is Google's error body for status.
func googleError(code int, status string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": "failure " + status, "status": status}})
	return b
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		name      string
		retryable bool
	}{
		{429, "RESOURCE_EXHAUSTED", true},
		{500, "INTERNAL", true},
		{503, "UNAVAILABLE", true},
		{400, "INVALID_ARGUMENT", false},
		{403, "PERMISSION_DENIED", false},
		{404, "NOT_FOUND", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				e := asError(t, err)
				if e.Status != tc.status || e.Retryable != tc.retryable {
					t.Errorf("%s: status %d retryable %v, want %d %v", what, e.Status, e.Retryable, tc.status, tc.retryable)
				}
				if !strings.Contains(e.Msg, "failure "+tc.name) {
					t.Errorf("%s: Msg %q does not summarize Google's message", what, e.Msg)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("%s: the error quotes the key", what)
				}
			}
			chat := `{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`

			p := newUpstream(t, &upstream{wantPath: "/v1beta/models/gemini-2.5-flash:generateContent", status: tc.status, body: googleError(tc.status, tc.name)})
			_, err := p.Chat(context.Background(), chatRequest(t, chat))
			check("Chat", err)

			p = newUpstream(t, &upstream{wantPath: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", wantQuery: "alt=sse", status: tc.status, body: googleError(tc.status, tc.name)})
			s, err := p.ChatStream(context.Background(), chatRequest(t, chat))
			if s != nil {
				t.Error("ChatStream returned a stream with its error")
			}
			check("ChatStream", err)

			p = newUpstream(t, &upstream{wantPath: "/v1beta/models/gemini-embedding-001:batchEmbedContents", status: tc.status, body: googleError(tc.status, tc.name)})
			_, err = p.Embeddings(context.Background(), &llm.EmbeddingsRequest{Model: "gemini-embedding-001", Input: json.RawMessage(`"x"`)})
			check("Embeddings", err)
		})
	}
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	p, err := New(llm.ProviderConfig{BaseURL: base, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Chat(context.Background(), chatRequest(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	e := asError(t, err)
	if !e.Retryable || e.Status != 0 {
		t.Errorf("got %+v, want a retryable error without status", e)
	}
	if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), base) {
		t.Errorf("the error %q quotes the key or the URL", err)
	}
}

func TestBadRequestsSendNothing(t *testing.T) {
	u := &upstream{}
	p := newUpstream(t, u)
	for _, body := range []string{
		// A tool result for a call the conversation never made.
		`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_x","content":"42"}]}`,
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
		`{"model":"m","messages":[{"role":"wizard","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":42}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"n":"two"}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64"}}]}]}`,
	} {
		_, err := p.Chat(context.Background(), chatRequest(t, body))
		e := asError(t, err)
		if e.Retryable || e.Status != 0 || e.Msg == "" {
			t.Errorf("%s: got %+v, want a non-retryable error with a message", body, e)
		}
		_, err = p.ChatStream(context.Background(), chatRequest(t, body))
		if e := asError(t, err); e.Retryable {
			t.Errorf("%s: stream error retryable", body)
		}
	}
	_, err := p.Chat(context.Background(), chatRequest(t, `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_x","content":"42"}]}`))
	if e := asError(t, err); !strings.Contains(e.Msg, "tool_call_id") {
		t.Errorf("unknown tool_call_id: Msg %q does not say what is wrong", e.Msg)
	}
	for _, input := range []string{`[[1,2,3]]`, `[1,2,3]`, `[]`, `null`, `{"text":"x"}`} {
		_, err := p.Embeddings(context.Background(), &llm.EmbeddingsRequest{Model: "e", Input: json.RawMessage(input)})
		if e := asError(t, err); e.Retryable {
			t.Errorf("embeddings input %s: retryable", input)
		}
	}
	if u.calls != 0 {
		t.Errorf("%d upstream calls for requests that cannot be translated", u.calls)
	}
}

func TestRequestDetails(t *testing.T) {
	for _, tc := range []struct{ name, req, want string }{
		{
			"consecutive same-role messages merge; empty assistant text is dropped",
			`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"},{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]},{"role":"assistant","content":""},{"role":"assistant","content":"c"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"a"},{"text":"b"}]},{"role":"model","parts":[{"text":"c"}]}]}`,
		},
		{
			"empty arguments are an empty object; tool results then user text share a turn",
			`{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"thinking","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":""}}]},{"role":"tool","tool_call_id":"1","content":"[1,2]"},{"role":"user","content":"and?"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"q"}]},{"role":"model","parts":[{"text":"thinking"},{"functionCall":{"id":"1","name":"f","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"id":"1","name":"f","response":{"result":"[1,2]"}}},{"text":"and?"}]}]}`,
		},
		{
			"a non-base64 data URL is encoded; none tool choice",
			`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,a%20b"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":null}}],"tool_choice":"none"}`,
			`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/jpeg","data":"YSBi"}}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}`,
		},
		{
			"json_schema response format; tool choice without tools is dropped",
			`{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"}}},"tool_choice":"required","temperature":0,"stop":[]}`,
			`{"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"temperature":0,"responseMimeType":"application/json","responseJsonSchema":{"type":"object"}}}`,
		},
		{
			"Gemini 3: the first call of each turn gets the documented signature",
			`{"model":"models/gemini-3-pro-preview","messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"2","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"{\"ok\":true}"},{"role":"tool","tool_call_id":"2","content":"{\"ok\":false}"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"q"}]},{"role":"model","parts":[{"functionCall":{"id":"1","name":"f","args":{}},"thoughtSignature":"skip_thought_signature_validator"},{"functionCall":{"id":"2","name":"f","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"id":"1","name":"f","response":{"ok":true}}},{"functionResponse":{"id":"2","name":"f","response":{"ok":false}}}]}]}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := toGemini(chatRequest(t, tc.req))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(g)
			jsonEqual(t, "upstream request", got, []byte(tc.want))
		})
	}
}

func TestNeedsSignature(t *testing.T) {
	for model, want := range map[string]bool{
		"gemini-3-pro-preview":        true,
		"models/gemini-3.1-flash":     true,
		"gemini-10-ultra":             true,
		"gemini-flash-latest":         true,
		"gemini-2.5-flash":            false,
		"models/gemini-2.0-flash-001": false,
		"gemma-3-27b-it":              false,
		"learnlm-2.0-flash":           false,
	} {
		if got := needsSignature(model); got != want {
			t.Errorf("needsSignature(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^call_[0-9a-f]{24}$`)
	a, b := newID("call_"), newID("call_")
	if !re.MatchString(a) || a == b {
		t.Errorf("newID: %q, %q", a, b)
	}
}

// streamOf runs the stream translator over body, returning its chunks and
// the error it ended with.
func streamOf(body string) ([]*llm.ChatChunk, error) {
	s := newStream(context.Background(), io.NopCloser(strings.NewReader(body)), "req-model")
	var out []*llm.ChatChunk
	for {
		c, err := s.Next()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

func TestStreamEnds(t *testing.T) {
	deterministic(t)
	text := `data: {"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}],"modelVersion": "gemini-2.5-flash","responseId": "r1"}` + "\r\n\r\n"
	for name, body := range map[string]string{
		"no finish reason": text,
		"cut inside event": text + `data: {"candidates": [{"content": {"parts": [{"text": "lo"}],"role": "model"},"finishReason": "STOP","index": 0}]}`,
		"not JSON":         text + "data: {\"candidates\": [\r\n\r\n",
		"nothing":          "",
	} {
		chunks, err := streamOf(body)
		e := asError(t, err)
		if !e.Retryable {
			t.Errorf("%s: %v is not retryable", name, err)
		}
		if len(chunks) > 1 {
			t.Errorf("%s: %d chunks before the error", name, len(chunks))
		}
	}

	// An error event after the 200 is the status it names.
	chunks, err := streamOf(text + `data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}` + "\r\n\r\n")
	if e := asError(t, err); e.Status != 503 || !e.Retryable || len(chunks) != 1 {
		t.Errorf("error event: %+v after %d chunks", e, len(chunks))
	}
	_, err = streamOf(`data: {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}` + "\n\n")
	if e := asError(t, err); e.Status != 400 || e.Retryable {
		t.Errorf("error event 400: %+v", e)
	}
}

func TestStreamShapes(t *testing.T) {
	deterministic(t)
	// No id or model in the answer, a thought, a blocked prompt (no usage).
	chunks, err := streamOf(`data: {"candidates": [{"content": {"parts": [{"text": "hmm", "thought": true}],"role": "model"},"index": 0}]}` + "\n\n" +
		`data: {"promptFeedback": {"blockReason": "SAFETY"}}` + "\n\n")
	if err != io.EOF {
		t.Fatal(err)
	}
	got, _ := json.Marshal(chunks)
	want := `[{"id":"chatcmpl-test1","object":"chat.completion.chunk","created":1700000000,"model":"req-model","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":"content_filter"}]},` +
		`{"id":"chatcmpl-test1","object":"chat.completion.chunk","created":1700000000,"model":"req-model","choices":[]}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// Two candidates, text and a call in one event, MAX_TOKENS and SAFETY.
	chunks, err = streamOf(`data: {"candidates": [{"content": {"parts": [{"text": "a"},{"functionCall": {"id": "fc1", "name": "f", "args": {"x": [1, 2]}}},{"text": "b"}],"role": "model"},"index": 0},` +
		`{"content": {"parts": [{"text": "c"}],"role": "model"},"finishReason": "SAFETY","index": 1}],"responseId": "r"}` + "\n\n" +
		`data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "MAX_TOKENS","index": 0}],"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 4,"totalTokenCount": 7}}` + "\n\n")
	if err != io.EOF {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range chunks {
		b, _ := json.Marshal(c.Choices)
		lines = append(lines, string(b))
	}
	wantLines := []string{
		`[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}]`,
		`[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"fc1","type":"function","function":{"name":"f","arguments":"{\"x\":[1,2]}"}}]},"finish_reason":null}]`,
		`[{"index":0,"delta":{"content":"b"},"finish_reason":null}]`,
		`[{"index":1,"delta":{"role":"assistant","content":"c"},"finish_reason":null}]`,
		`[{"index":1,"delta":{},"finish_reason":"content_filter"}]`,
		`[{"index":0,"delta":{},"finish_reason":"length"}]`,
		`[]`,
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	if u := chunks[len(chunks)-1].Usage; u == nil || u.TotalTokens != 7 || u.CompletionTokens != 4 {
		t.Errorf("usage %+v", u)
	}
	for _, c := range chunks {
		if c.ID != "r" || c.Model != "req-model" {
			t.Errorf("chunk id %q model %q", c.ID, c.Model)
		}
	}
}

// closeCounter counts Close calls on a body.
type closeCounter struct {
	io.Reader
	n int
}

func (c *closeCounter) Close() error { c.n++; return nil }

func TestStreamClose(t *testing.T) {
	body := &closeCounter{Reader: strings.NewReader("")}
	s := newStream(context.Background(), body, "m")
	s.Close()
	s.Close()
	if body.n != 1 {
		t.Errorf("body closed %d times, want 1", body.n)
	}
}

func TestStreamCancel(t *testing.T) {
	deterministic(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"},"index": 0}]}`+"\r\n\r\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	p, _ := New(llm.ProviderConfig{BaseURL: srv.URL, Key: testKey, Client: srv.Client()})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := p.ChatStream(ctx, chatRequest(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, err := s.Next(); err != nil || *c.Choices[0].Delta.Content != "Hel" {
		t.Fatalf("first chunk: %v", err)
	}
	cancel()
	_, err = s.Next()
	if e := asError(t, err); !errors.Is(e, context.Canceled) {
		t.Errorf("after cancel: %v, want the cancellation", err)
	}
}

func TestEmbeddingsCountMismatch(t *testing.T) {
	p := newUpstream(t, &upstream{wantPath: "/v1beta/models/e:batchEmbedContents", body: []byte(`{"embeddings": [{"values": [1]}]}`)})
	_, err := p.Embeddings(context.Background(), &llm.EmbeddingsRequest{Model: "e", Input: json.RawMessage(`["a","b"]`)})
	if e := asError(t, err); !e.Retryable {
		t.Errorf("mismatch: %+v", e)
	}
}

func TestChatNoCandidates(t *testing.T) {
	p := newUpstream(t, &upstream{wantPath: "/v1beta/models/m:generateContent", body: []byte(`{"usageMetadata": {"promptTokenCount": 1}}`)})
	_, err := p.Chat(context.Background(), chatRequest(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if e := asError(t, err); !e.Retryable {
		t.Errorf("no candidates: %+v", e)
	}
	p = newUpstream(t, &upstream{wantPath: "/v1beta/models/m:generateContent", body: []byte(`{"candidates": [`)})
	_, err = p.Chat(context.Background(), chatRequest(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if e := asError(t, err); !e.Retryable {
		t.Errorf("bad JSON: %+v", e)
	}
}

// FuzzStream feeds arbitrary bytes to the stream translator as the SSE
// body: it must end with io.EOF or an *llm.Error, never panic, and keep
// its chunks' shape.
func FuzzStream(f *testing.F) {
	f.Add([]byte(`data: {"candidates": [{"content": {"parts": [{"text": "x"}]},"finishReason": "STOP"}]}` + "\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newStream(context.Background(), io.NopCloser(bytes.NewReader(data)), "m")
		defer s.Close()
		var id string
		var last *llm.ChatChunk
		for {
			c, err := s.Next()
			if err == io.EOF {
				if last == nil || last.Choices == nil || len(last.Choices) != 0 {
					t.Fatalf("the stream ended without its final chunk: %+v", last)
				}
				return
			}
			if err != nil {
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
				}
				if _, again := s.Next(); again != err {
					t.Fatalf("the error is not sticky: %v then %v", err, again)
				}
				return
			}
			if id == "" {
				id = c.ID
			}
			if c.ID != id || c.ID == "" || c.Object != "chat.completion.chunk" {
				t.Fatalf("chunk %+v: id or object", c)
			}
			last = c
		}
	})
}
