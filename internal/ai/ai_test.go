package ai

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/ai/llmtest"
	"github.com/portcullis/portcullis/internal/ai/providers/openai"
	"github.com/portcullis/portcullis/internal/httperr"
	"github.com/portcullis/portcullis/internal/policy/ratelimit"
)

// fakeProvider is an AIProvider on an llmtest OpenAI fake.
func fakeProvider(t *testing.T, name string, models ...string) (*Provider, *llmtest.Fake) {
	t.Helper()
	f := llmtest.NewOpenAI("sk-" + name)
	t.Cleanup(f.Close)
	api, err := openai.New(llm.ProviderConfig{BaseURL: f.URL, Key: "sk-" + name}, openai.OpenAI)
	if err != nil {
		t.Fatal(err)
	}
	return &Provider{Name: name, Type: "openai", API: api, Models: models,
		Pricing: map[string]Price{"m1": {InputPerMTok: 1, OutputPerMTok: 2}, "m2": {InputPerMTok: 10, OutputPerMTok: 20}}}, f
}

func newRoute(t *testing.T, cfg Config) *Route {
	t.Helper()
	cfg.Route = "llm"
	cfg.Prefix = "/llm"
	if cfg.Counters.Tokens == nil {
		cfg.Counters = Counters{Tokens: ratelimit.NewStore(0), Budgets: ratelimit.NewQuotaStore(0)}
	}
	r, err := NewRoute(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// serve runs one request through the route as the edge does and answers
// what the client received.
func serve(rt *Route, ctx context.Context, method, path, body string, call Call) (*httptest.ResponseRecorder, Outcome) {
	r := httptest.NewRequest(method, path, strings.NewReader(body)).WithContext(ctx)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	call.Path = path
	out := rt.Serve(w, r, call)
	if out.Err != nil {
		httperr.Write(w, out.Err, "req")
	}
	return w, out
}

func chatBody(model, text string, extra string) string {
	return `{"model":"` + model + `","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"` + text + `"}]` + extra + `}`
}

func TestChatAnswersAsProviderSlashModel(t *testing.T) {
	p, f := fakeProvider(t, "oa", "m1")
	rt := newRoute(t, Config{Providers: []*Provider{p}})
	w, out := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m1", "hello there", ""), Call{})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var resp llm.ChatResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Model != "oa/m1" || resp.Choices[0].Message.Content.Text != "echo: hello there" {
		t.Fatalf("answer %+v", resp)
	}
	// prompt: "be brief" + "hello there" = 4 words; completion 3.
	if f := out.AI; f == nil || f.PromptTokens != 4 || f.CompletionTokens != 3 || f.Estimated || f.Ended != EndedComplete || f.Provider != "oa" || f.Model != "m1" {
		t.Fatalf("facts %+v", out.AI)
	}
	if want := (4*1.0 + 3*2.0) / 1e6; out.AI.CostUSD != want {
		t.Fatalf("cost %v, want %v", out.AI.CostUSD, want)
	}
	if got := f.Requests()[0]; got.Header.Get("Authorization") != "Bearer sk-oa" || !strings.Contains(string(got.Body), `"model":"m1"`) {
		t.Fatalf("upstream request %s %v", got.Body, got.Header)
	}
}

func TestResolve(t *testing.T) {
	a, _ := fakeProvider(t, "a", "m1")
	b, _ := fakeProvider(t, "b", "m1", "m2")
	c, _ := fakeProvider(t, "c") // lists none: only by name or alias
	rt := newRoute(t, Config{Providers: []*Provider{a, b}, Aliases: map[string][]Target{"smart": {{c, "big"}, {b, "m2"}}}})
	names := func(ts []Target) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Name())
		}
		return strings.Join(s, ",")
	}
	for model, want := range map[string]string{
		"m1": "a/m1,b/m1", "m2": "b/m2", "b/m1": "b/m1", "a/m2": "", "smart": "c/big,b/m2", "c/anything": "c/anything",
		"nope": "", "x/m1": "",
	} {
		if got := names(rt.Resolve(model)); got != want {
			t.Errorf("%s: %q, want %q", model, got, want)
		}
	}
	w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("gpt-9", "x", ""), Call{})
	if w.Code != 400 || !strings.Contains(w.Body.String(), "gpt-9") {
		t.Fatalf("unknown model: %d %s", w.Code, w.Body)
	}
	w, _ = serve(rt, context.Background(), "GET", "/llm/v1/models", "", Call{})
	var list llm.ModelList
	_ = json.Unmarshal(w.Body.Bytes(), &list)
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, ","); got != "a/m1,b/m1,b/m2,smart" {
		t.Fatalf("models %s", got)
	}
	for path, want := range map[string]int{"/llm/v1/models/b/m2": 200, "/llm/v1/models/smart": 200, "/llm/v1/models/c/big": 404, "/llm/v1/models/": 404} {
		w, _ := serve(rt, context.Background(), "GET", path, "", Call{})
		if w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
		if want == 200 && !strings.Contains(w.Body.String(), `"object":"model"`) {
			t.Errorf("GET %s: %s", path, w.Body)
		}
	}
}

func TestEndpointsAndMethods(t *testing.T) {
	p, _ := fakeProvider(t, "oa", "m1")
	rt := newRoute(t, Config{Providers: []*Provider{p}})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/llm/v1/chat/completions", 405}, {"POST", "/llm/v1/models", 405}, {"POST", "/llm/v1/completions", 404},
		{"POST", "/llm/v1/chat/completions", 400}, // no body
	} {
		w, _ := serve(rt, context.Background(), tc.method, tc.path, "", Call{})
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
	}
}

// sseChunks reads a recorded SSE body into its data payloads.
func sseChunks(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestStreamRelaysAndMeters(t *testing.T) {
	p, _ := fakeProvider(t, "oa", "m1")
	rt := newRoute(t, Config{Providers: []*Provider{p}})
	for _, asked := range []bool{false, true} {
		extra := `,"stream":true`
		if asked {
			extra += `,"stream_options":{"include_usage":true}`
		}
		w, out := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("oa/m1", "one two three", extra), Call{})
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		data := sseChunks(t, w.Body.String())
		if data[len(data)-1] != "[DONE]" {
			t.Fatalf("no [DONE]: %v", data)
		}
		var text strings.Builder
		sawUsage := false
		for _, d := range data[:len(data)-1] {
			var c llm.ChatChunk
			if err := json.Unmarshal([]byte(d), &c); err != nil {
				t.Fatal(err)
			}
			if c.Model != "oa/m1" || c.Object != "chat.completion.chunk" {
				t.Fatalf("chunk %s", d)
			}
			if c.Usage != nil {
				sawUsage = true
			}
			for _, ch := range c.Choices {
				if ch.Delta.Content != nil {
					text.WriteString(*ch.Delta.Content)
				}
			}
		}
		if text.String() != "echo: one two three" || sawUsage != asked {
			t.Fatalf("asked %v: text %q, usage chunk %v", asked, text.String(), sawUsage)
		}
		if f := out.AI; f.PromptTokens != 5 || f.CompletionTokens != 4 || f.Estimated || f.Ended != EndedComplete {
			t.Fatalf("facts %+v", f)
		}
	}
}

func TestFallback(t *testing.T) {
	a, fa := fakeProvider(t, "a", "m1")
	b, fb := fakeProvider(t, "b", "m1")
	rt := newRoute(t, Config{Providers: []*Provider{a, b}})
	for _, status := range []int{429, 500, 503, 0} {
		fa.FailNext(status)
		for _, stream := range []string{"", `,"stream":true`} {
			if stream != "" {
				fa.FailNext(status)
			}
			w, out := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m1", "hi", stream), Call{})
			if w.Code != 200 || out.AI.Provider != "b" || !strings.Contains(w.Body.String(), `"model":"b/m1"`) {
				t.Fatalf("status %d: %d %+v %s", status, w.Code, out.AI, w.Body)
			}
		}
	}
	// A provider refusing the gateway's own key: no fallback, a 502 that
	// does not relay the provider's body.
	fa.FailNext(401)
	before := len(fb.Requests())
	w, out := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m1", "hi", ""), Call{})
	if w.Code != 502 || len(fb.Requests()) != before || strings.Contains(w.Body.String(), "failure") || out.AI.Ended != EndedUpstreamError {
		t.Fatalf("401: %d %s", w.Code, w.Body)
	}
	// PROVIDER/MODEL is retried on the same provider.
	fa.FailNext(500)
	w, out = serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("a/m1", "hi", ""), Call{})
	if w.Code != 200 || out.AI.Provider != "a" {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	// Everything failing: the client gets a problem, never the body.
	fa.FailNext(500, 500)
	w, _ = serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("a/m1", "hi", ""), Call{})
	if w.Code != 502 || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
		t.Fatalf("all failed: %d %s", w.Code, w.Body)
	}
}

// gate is a provider whose calls wait until it opens: every admitted call
// is in flight at once, so a test sees exactly what the reservations let in.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	g.entered <- struct{}{}
	<-g.open
	return &llm.ChatResponse{ID: "x", Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: llm.TextContent("ok")}, FinishReason: "stop"}},
		Usage: &llm.Usage{PromptTokens: 5, CompletionTokens: 1, TotalTokens: 6}}, nil
}

func (g *gate) ChatStream(context.Context, *llm.ChatRequest) (llm.ChunkStream, error) {
	return nil, llm.ErrUnsupported
}

func (g *gate) Embeddings(context.Context, *llm.EmbeddingsRequest) (*llm.EmbeddingsResponse, error) {
	return nil, llm.ErrUnsupported
}

func TestTokenLimitExactUnderConcurrency(t *testing.T) {
	g := &gate{entered: make(chan struct{}, 20), open: make(chan struct{})}
	p := &Provider{Name: "g", API: g, Models: []string{"m1"}}
	// Each call reserves its prompt estimate (17) plus max_tokens 50: 67;
	// ten fit in 700 tokens.
	rt := newRoute(t, Config{Providers: []*Provider{p}, Tokens: &TokenLimit{Limit: ratelimit.Limit{Requests: 700, Interval: time.Hour}, By: "consumer"}})
	body := chatBody("m1", "one two three", `,"max_tokens":50`)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	refused := make(chan struct{}, 20)
	for range 20 {
		wg.Go(func() {
			w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", body, Call{Consumer: "alice"})
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
			if w.Header().Get("X-Ratelimit-Limit-Tokens") != "700" || w.Header().Get("X-Ratelimit-Remaining-Tokens") == "" {
				t.Errorf("token headers %v", w.Header())
			}
			if w.Code == 429 {
				if w.Header().Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				refused <- struct{}{}
			}
		})
	}
	// Wait until every call is either in flight or refused, then let them go.
	for n := 0; n < 20; n++ {
		select {
		case <-g.entered:
		case <-refused:
		}
	}
	close(g.open)
	wg.Wait()
	if codes[200] != 10 || codes[429] != 10 {
		t.Fatalf("codes %v: want 10 admitted and 10 refused", codes)
	}
	// Settled to the real usage (6 tokens a call): 610 came back, so a
	// call reserving 17 + 600 fits now, and one reserving 17 + 660 does not.
	for maxTokens, want := range map[int]int{600: 200, 660: 429} {
		go func() { <-g.entered }()
		w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions",
			chatBody("m1", "one two three", `,"max_tokens":`+strconv.Itoa(maxTokens)), Call{Consumer: "alice"})
		if w.Code != want {
			t.Fatalf("max_tokens %d after settling: %d, want %d", maxTokens, w.Code, want)
		}
	}
	// Another consumer has its own bucket.
	go func() { <-g.entered }()
	w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", body, Call{Consumer: "bob"})
	if w.Code != 200 {
		t.Fatalf("bob: %d", w.Code)
	}
}

func TestReservationTooBigForTheLimit(t *testing.T) {
	p, _ := fakeProvider(t, "oa", "m1")
	rt := newRoute(t, Config{Providers: []*Provider{p}, Tokens: &TokenLimit{Limit: ratelimit.Limit{Requests: 1000, Interval: time.Minute}, By: "route"}})
	w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m1", "x", ""), Call{})
	if w.Code != 429 || !strings.Contains(w.Body.String(), "lower max_tokens") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestBudget(t *testing.T) {
	p, _ := fakeProvider(t, "oa", "m1", "m2")
	rt := newRoute(t, Config{Providers: []*Provider{p}, Budget: &Budget{Quota: ratelimit.Quota{Requests: 5000, Period: "month"}, By: "consumer"}})
	body := chatBody("m2", "one two three", `,"max_tokens":100`)
	ok := 0
	for range 100 {
		w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", body, Call{Consumer: "alice"})
		if w.Code != 200 {
			if w.Code != 429 || w.Header().Get("Retry-After") == "" {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			break
		}
		ok++
	}
	// A call reserves 17 prompt + 100 completion tokens at m2's prices,
	// 2,170 micro-dollars, and settles at 5*10 + 4*20 = 130: after n calls
	// the next fits while 130n + 2170 <= 5000, so 22 are served.
	if ok != 22 {
		t.Fatalf("%d calls fit a $0.005 budget, want 22", ok)
	}
	// An unpriced model cannot be counted: refused.
	q, _ := fakeProvider(t, "free", "m9")
	rt = newRoute(t, Config{Providers: []*Provider{q}, Budget: &Budget{Quota: ratelimit.Quota{Requests: 5000, Period: "month"}, By: "route"}})
	w, _ := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m9", "x", ""), Call{})
	if w.Code != 400 {
		t.Fatalf("unpriced: %d", w.Code)
	}
}

// hangUpAfterFirstByte serves body as a client that hangs up as soon as the
// first byte of the answer arrives.
func hangUpAfterFirstByte(rt *Route, body string) Outcome {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := pr.Read(buf); err != nil {
				return
			}
			cancel()
		}
	}()
	r := httptest.NewRequest("POST", "/llm/v1/chat/completions", strings.NewReader(body)).WithContext(ctx)
	w := &pipeWriter{ResponseRecorder: httptest.NewRecorder(), w: pw}
	out := rt.Serve(w, r, Call{Path: "/llm/v1/chat/completions"})
	pw.Close()
	return out
}

func TestClientHangsUpMidStream(t *testing.T) {
	p, f := fakeProvider(t, "oa", "m1")
	f.ChunkDelay = 20 * time.Millisecond
	rt := newRoute(t, Config{Providers: []*Provider{p}})
	out := hangUpAfterFirstByte(rt, chatBody("m1", strings.Repeat("w ", 30), `,"stream":true`))
	// The provider's usage arrived while the gateway read on: exact.
	if f := out.AI; f == nil || f.Ended != EndedClientDisconnect || f.Estimated || f.PromptTokens != 32 || f.CompletionTokens != 31 {
		t.Fatalf("facts %+v", out.AI)
	}
}

// pipeWriter is a ResponseRecorder that also copies the body to a pipe.
type pipeWriter struct {
	*httptest.ResponseRecorder
	w *io.PipeWriter
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	_, _ = p.w.Write(b)
	return p.ResponseRecorder.Write(b)
}

var _ http.Flusher = (*pipeWriter)(nil)

func TestProviderTimeout(t *testing.T) {
	slow, fs := fakeProvider(t, "slow", "m1")
	fast, _ := fakeProvider(t, "fast", "m1")
	fs.ChunkDelay = time.Minute // its stream never starts in time
	slow.Timeout = 50 * time.Millisecond
	rt := newRoute(t, Config{Providers: []*Provider{slow, fast}})
	w, out := serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m1", "hi", `,"stream":true`), Call{})
	if w.Code != 200 || out.AI.Provider != "fast" {
		t.Fatalf("%d %+v", w.Code, out.AI)
	}
	// Alone, the slow provider is tried twice, then the client gets a 504.
	rt = newRoute(t, Config{Providers: []*Provider{slow}})
	w, out = serve(rt, context.Background(), "POST", "/llm/v1/chat/completions", chatBody("m1", "hi", `,"stream":true`), Call{})
	if w.Code != 504 || out.AI.Ended != EndedUpstreamError || len(fs.Requests()) != 3 {
		t.Fatalf("%d %s %+v, %d calls", w.Code, w.Body, out.AI, len(fs.Requests()))
	}
}

// TestHangUpWithoutUsage: when the provider's usage does not arrive within
// the settle timeout after the client hung up, the call is recorded with
// the gateway's own count, marked estimated: the prompt's estimate and the
// tokens relayed (none here: the client left after the first, empty chunk,
// and the call was cancelled before the next).
func TestHangUpWithoutUsage(t *testing.T) {
	p, f := fakeProvider(t, "oa", "m1")
	f.ChunkDelay = 500 * time.Millisecond // 32 chunks: 16 s unless the call is cancelled
	rt := newRoute(t, Config{Providers: []*Provider{p}, SettleTimeout: 50 * time.Millisecond})
	body := chatBody("m1", strings.Repeat("w ", 30), `,"stream":true`)
	start := time.Now()
	out := hangUpAfterFirstByte(rt, body)
	var req llm.ChatRequest
	_ = json.Unmarshal([]byte(body), &req)
	fa := out.AI
	if fa == nil || fa.Ended != EndedClientDisconnect || !fa.Estimated || fa.PromptTokens != int64(llm.EstimatePrompt(&req)) || fa.CompletionTokens != 0 {
		t.Fatalf("facts %+v", fa)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the upstream call was not cancelled after the settle timeout")
	}
}
