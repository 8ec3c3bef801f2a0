package ai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/ai/guard"
	"github.com/portcullis/portcullis/internal/ai/llm"
)

// DefaultSettleTimeout is how long the gateway keeps reading a stream whose client
// hung up, waiting for the provider's usage; after it the upstream call is
// cancelled and the call is settled with the gateway's own estimate.
const DefaultSettleTimeout = 5 * time.Second

// StatusClientClosed is the status recorded for a call whose client hung
// up before anything was written (nginx's 499: nothing is sent).
const StatusClientClosed = 499

// errFirstChunkTimeout cancels a stream whose first chunk is late.
var errFirstChunkTimeout = errors.New("no answer within the provider's timeout")

// maxModelInDetail bounds how much of a client's model name an error echoes.
const maxModelInDetail = 100

func (rt *Route) chat(w http.ResponseWriter, r *http.Request, call Call) (out Outcome) {
	var req llm.ChatRequest
	if herr := readBody(r, &req); herr != nil {
		return Outcome{Err: herr}
	}
	switch {
	case req.Model == "":
		return invalid("model is required", nil)
	case len(req.Messages) == 0:
		return invalid("messages must not be empty", nil)
	case req.MaxOutputTokens() < 0:
		return invalid("max_tokens must not be negative", nil)
	}
	targets, injection, refused := rt.admit(call, req.Model, func(g *guard.Guard) guard.Verdict { return g.CheckChat(&req) })
	if refused != nil {
		return *refused
	}
	defer func() { out.Injection = injection }()
	if (rt.cfg.Tokens != nil || rt.cfg.Budget != nil) && req.MaxOutputTokens() == 0 {
		// What is reserved must bound what the provider may produce.
		n := DefaultMaxTokens
		req.MaxTokens = &n
	}
	prompt, completion := int64(llm.EstimatePrompt(&req)), int64(req.MaxOutputTokens())
	usd, herr := rt.budgetEstimate(targets, prompt, completion)
	if herr != nil {
		return Outcome{Err: herr}
	}
	res, herr := rt.reserve(call, prompt+completion, usd, w.Header())
	if herr != nil {
		return Outcome{Err: herr}
	}
	if req.Stream {
		out = rt.stream(w, r, call, &req, targets)
	} else {
		out = rt.complete(w, r, call, &req, targets)
	}
	rt.account(call, &out, res)
	return out
}

// admit resolves the model a client named to its candidates and runs the
// route's guard (check: CheckChat or CheckEmbeddings, which may redact the
// request): the candidates and the injection heuristics that matched, or
// the refusal.
func (rt *Route) admit(call Call, model string, check func(*guard.Guard) guard.Verdict) ([]Target, []string, *Outcome) {
	targets := rt.Resolve(model)
	if len(targets) == 0 {
		o := rt.unknownModel(model)
		return nil, nil, &o
	}
	if rt.cfg.Guard == nil {
		return targets, nil, nil
	}
	v := check(rt.cfg.Guard)
	if o := rt.judge(call, v); o != nil {
		return nil, nil, o
	}
	return targets, v.Injection, nil
}

// unknownModel is the 400 for a model the route does not serve.
func (rt *Route) unknownModel(model string) Outcome {
	if len(model) > maxModelInDetail {
		model = model[:maxModelInDetail] + "…"
	}
	return invalid(fmt.Sprintf("model %q is not served by this route; GET %s/v1/models lists the models it serves", model, rt.cfg.Prefix), nil)
}

// plan is the sequence of calls to try: each candidate once, or a lone
// candidate twice (PROVIDER/MODEL is retried on failure).
func plan(targets []Target) []Target {
	if len(targets) == 1 {
		return []Target{targets[0], targets[0]}
	}
	return targets
}

// retry reports whether a failed attempt lets the next one go ahead: the
// provider failed in a way another try may not, and the client still waits.
func (rt *Route) retry(r *http.Request, t Target, err error) bool {
	var pe *llm.Error
	status := 0
	if errors.As(err, &pe) {
		status = pe.Status
	}
	rt.cfg.Metrics.ProviderFailure(t.Provider.Name, status)
	rt.cfg.Log.Warn("ai: provider call failed", "route", rt.cfg.Route, "provider", t.Provider.Name, "model", t.Model, "err", err)
	return pe != nil && pe.Retryable && r.Context().Err() == nil
}

// firstAnswer calls the candidates of targets in plan order with call until
// one answers, or a failure lets none follow (see retry). It returns the
// answer and the candidate that gave it, or the last candidate tried and its
// error.
func firstAnswer[T any](rt *Route, r *http.Request, c Call, targets []Target, call func(Target) (T, error)) (T, Target, error) {
	var zero T
	var last error
	var tried Target
	for _, t := range plan(targets) {
		tried = t
		var end func(int)
		if c.Span != nil {
			end = c.Span(t.Provider.Name)
		}
		answer, err := call(t)
		if end != nil {
			end(spanStatus(err))
		}
		if err == nil {
			return answer, t, nil
		}
		last = err
		if !rt.retry(r, t, err) {
			break
		}
	}
	return zero, tried, last
}

// spanStatus is a provider call's status for its span: 200 when it
// answered (a stream: its first chunk arrived), the provider's status when
// it refused, 0 when it did not answer.
func spanStatus(err error) int {
	var pe *llm.Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &pe):
		return pe.Status
	}
	return 0
}

// withTimeout calls f with a context bounded by the provider's timeout; an
// error caused by it is marked as a timeout.
func withTimeout[T any](rt *Route, r *http.Request, t Target, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(r.Context(), rt.timeout(t.Provider))
	defer cancel()
	answer, err := f(ctx)
	if err != nil {
		return answer, timedOut(ctx, err)
	}
	return answer, nil
}

// complete serves a non-streaming chat completion.
func (rt *Route) complete(w http.ResponseWriter, r *http.Request, call Call, req *llm.ChatRequest, targets []Target) Outcome {
	resp, t, err := firstAnswer(rt, r, call, targets, func(t Target) (*llm.ChatResponse, error) {
		out := req.Clone()
		out.Model = t.Model
		return withTimeout(rt, r, t, func(ctx context.Context) (*llm.ChatResponse, error) { return t.Provider.API.Chat(ctx, out) })
	})
	if err != nil {
		return rt.noAnswer(r, t, err)
	}
	resp.Model = t.Name()
	if resp.Object == "" {
		resp.Object = "chat.completion"
	}
	o := writeJSON(w, http.StatusOK, resp)
	facts := &Facts{Provider: t.Provider.Name, Model: t.Model, Ended: EndedComplete}
	if u := resp.Usage; u != nil {
		facts.PromptTokens, facts.CompletionTokens = int64(u.PromptTokens), int64(u.CompletionTokens)
	} else {
		facts.Estimated = true
		facts.PromptTokens = int64(llm.EstimatePrompt(req))
		for _, c := range resp.Choices {
			facts.CompletionTokens += int64(llm.EstimateTokens(c.Message.Content.PlainText()))
			for _, tc := range c.Message.ToolCalls {
				facts.CompletionTokens += int64(llm.EstimateTokens(tc.Function.Name) + llm.EstimateTokens(tc.Function.Arguments))
			}
		}
	}
	o.AI = facts
	return o
}

// noAnswer is the outcome when no candidate answered.
func (rt *Route) noAnswer(r *http.Request, t Target, err error) Outcome {
	facts := &Facts{Provider: t.Provider.Name, Model: t.Model, Ended: EndedUpstreamError}
	if r.Context().Err() != nil {
		facts.Ended = EndedClientDisconnect
		return Outcome{Status: StatusClientClosed, AI: facts}
	}
	return Outcome{Err: failed(err), AI: facts}
}

// timedOut marks an error caused by ctx's deadline (or the first-chunk
// timer) as a timeout: retryable, and a 504 when it is the last.
func timedOut(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if cause == context.DeadlineExceeded || cause == errFirstChunkTimeout {
		return &llm.Error{Retryable: true, Msg: "the provider did not answer within its timeout", Err: context.DeadlineExceeded}
	}
	return err
}

// started is a stream whose first chunk arrived, and how to end its call.
type started struct {
	stream llm.ChunkStream
	first  *llm.ChatChunk
	cancel context.CancelCauseFunc
}

// stream serves a streaming chat completion: candidates are tried until one
// sends its first chunk; from then on its chunks are relayed as they come.
func (rt *Route) stream(w http.ResponseWriter, r *http.Request, call Call, req *llm.ChatRequest, targets []Target) Outcome {
	st, t, err := firstAnswer(rt, r, call, targets, func(t Target) (started, error) { return rt.start(r, req, t) })
	if err != nil {
		return rt.noAnswer(r, t, err)
	}
	clientUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	o := rt.relay(w, r, req, t, st.stream, st.first, clientUsage, st.cancel)
	st.stream.Close()
	st.cancel(nil)
	return o
}

// start opens a stream on t and waits for its first chunk, within the
// provider's timeout. The upstream call outlives the client's request (see
// relay): from the first chunk on it is cancelled by the gateway, not by the
// client hanging up.
func (rt *Route) start(r *http.Request, req *llm.ChatRequest, t Target) (started, error) {
	out := req.Clone()
	out.Model = t.Model
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(r.Context(), func() { cancel(context.Canceled) })
	timer := time.AfterFunc(rt.timeout(t.Provider), func() { cancel(errFirstChunkTimeout) })
	defer timer.Stop()
	s, err := t.Provider.API.ChatStream(ctx, out)
	var first *llm.ChatChunk
	if err == nil {
		if first, err = s.Next(); err == io.EOF {
			err = llm.ProtocolError(errors.New("the stream ended before its first chunk"))
		}
	}
	stop()
	if err != nil {
		if s != nil {
			s.Close()
		}
		cancel(nil)
		return started{}, timedOut(ctx, err)
	}
	return started{stream: s, first: first, cancel: cancel}, nil
}

// relay writes a stream's chunks to the client as they arrive, each flushed
// at once, and meters it. When the client hangs up, the stream is read on
// (not relayed) for the route's SettleTimeout for the provider's usage, then
// cancelled.
func (rt *Route) relay(w http.ResponseWriter, r *http.Request, req *llm.ChatRequest, t Target, s llm.ChunkStream, chunk *llm.ChatChunk, clientUsage bool, cancel context.CancelCauseFunc) Outcome {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	o := Outcome{Status: http.StatusOK, AI: &Facts{Provider: t.Provider.Name, Model: t.Model, Ended: EndedComplete}}
	// Once the client is gone the upstream call has SettleTimeout left,
	// whether or not a chunk arrives meanwhile to notice it by.
	settle := context.AfterFunc(r.Context(), func() {
		time.AfterFunc(rt.cfg.SettleTimeout, func() { cancel(errors.New("settle timeout")) })
	})
	defer settle()
	gone := false
	hangUp := func() {
		if !gone {
			gone = true
			time.AfterFunc(rt.cfg.SettleTimeout, func() { cancel(errors.New("settle timeout")) })
		}
	}
	// A chunk is flushed at once unless the next one has already arrived
	// (it is then flushed with it): nothing waits that could be sent.
	buffered, _ := s.(interface{ Buffered() bool })
	send := func(b []byte) {
		if gone {
			return
		}
		if r.Context().Err() != nil {
			hangUp()
			return
		}
		n, err := w.Write(b)
		o.Bytes += int64(n)
		if err == nil && (buffered == nil || !buffered.Buffered()) {
			err = rc.Flush()
		}
		if err != nil {
			hangUp()
		}
	}
	var usage *llm.Usage
	var relayed int64
	buf := make([]byte, 0, 512)
	for {
		isUsage := chunk.Usage != nil && len(chunk.Choices) == 0
		if isUsage {
			usage = chunk.Usage
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != nil {
				relayed += int64(llm.EstimateTokens(*c.Delta.Content))
			}
			for _, tc := range c.Delta.ToolCalls {
				relayed += int64(llm.EstimateTokens(tc.Function.Name) + llm.EstimateTokens(tc.Function.Arguments))
			}
		}
		if !isUsage || clientUsage {
			chunk.Model = t.Name()
			chunk.Object = "chat.completion.chunk"
			if chunk.Choices == nil {
				chunk.Choices = []llm.ChunkChoice{}
			}
			b, err := llm.Marshal(chunk)
			if err == nil {
				buf = append(append(append(buf[:0], "data: "...), b...), "\n\n"...)
				send(buf)
			}
		}
		var err error
		chunk, err = s.Next()
		if err == io.EOF {
			send([]byte("data: [DONE]\n\n"))
			break
		}
		if err != nil {
			if !gone {
				rt.cfg.Log.Warn("ai: stream failed mid-way", "route", rt.cfg.Route, "provider", t.Provider.Name, "model", t.Model, "err", err)
				rt.cfg.Metrics.ProviderFailure(t.Provider.Name, 0)
				o.AI.Ended = EndedUpstreamError
				send([]byte(`data: {"error":{"message":"the AI provider failed mid-stream","type":"upstream_error","code":null,"param":null}}` + "\n\n"))
			}
			break
		}
	}
	if gone {
		o.AI.Ended = EndedClientDisconnect
	}
	if usage != nil {
		o.AI.PromptTokens, o.AI.CompletionTokens = int64(usage.PromptTokens), int64(usage.CompletionTokens)
	} else {
		o.AI.Estimated = true
		o.AI.PromptTokens, o.AI.CompletionTokens = int64(llm.EstimatePrompt(req)), relayed
	}
	return o
}

// account prices a call that reached a provider, settles its reservation
// with what it used (nothing, when no provider answered) and counts it in
// the metrics.
func (rt *Route) account(call Call, out *Outcome, res reservation) {
	f := out.AI
	if f == nil {
		rt.settle(res, 0, 0)
		return
	}
	if p := rt.known[f.Provider]; p != nil {
		price, _ := p.price(f.Model)
		f.CostUSD = cost(price, f.PromptTokens, f.CompletionTokens)
	}
	rt.settle(res, f.PromptTokens+f.CompletionTokens, microUSD(f.CostUSD))
	rt.cfg.Metrics.Call(rt.cfg.Route, call.Consumer, f.Provider, f.Model, f.Ended, f.PromptTokens, f.CompletionTokens, f.CostUSD)
}

// judge acts on the guard's verdict: logs (and alerts) what the injection
// heuristics found, and returns the refusal when the guard blocks.
func (rt *Route) judge(call Call, v guard.Verdict) *Outcome {
	if len(v.Injection) > 0 {
		rt.cfg.Log.Warn("ai: possible prompt injection", "requestId", call.RequestID, "route", rt.cfg.Route,
			"consumer", call.Consumer, "clientIp", call.ClientIP, "heuristics", v.Injection, "mode", rt.cfg.Injection)
	}
	if n := len(v.Redacted); n > 0 {
		rt.cfg.Log.Debug("ai: PII redacted from a prompt", "requestId", call.RequestID, "route", rt.cfg.Route, "kinds", v.Redacted)
	}
	if !v.Block {
		return nil
	}
	o := invalid("the prompt was refused by the AI guard as a likely prompt injection", nil)
	if v.Denied >= 0 {
		o = invalid("the prompt matches a pattern this route denies", nil)
	}
	o.Injection = v.Injection
	return &o
}
