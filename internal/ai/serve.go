package ai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llm"
	"github.com/portcullis/portcullis/internal/httperr"
)

// Call is what the edge knows of a request the policy chain admitted.
type Call struct {
	RequestID string
	Consumer  string // "" when anonymous
	KeyID     string
	ClientIP  string
	Path      string // the normalized request path
	// Span, when tracing, starts the client span of one provider call and
	// returns what ends it with the provider's status (0: no answer). Nil:
	// not traced.
	Span func(provider string) (end func(status int))
}

// Ended says how an AI call ended (the audit record's ai.ended).
const (
	EndedComplete         = "complete"
	EndedClientDisconnect = "client_disconnect"
	EndedUpstreamError    = "upstream_error"
)

// Facts are what an AI call adds to its audit record and metrics.
type Facts struct {
	Provider, Model  string // the AIProvider and its model that served (or was tried last)
	PromptTokens     int64
	CompletionTokens int64
	CostUSD          float64
	Estimated        bool // usage is the gateway's estimate, not the provider's count
	Ended            string
}

// Tokens is the call's prompt and completion tokens (0 for nil Facts).
func (f *Facts) Tokens() int64 {
	if f == nil {
		return 0
	}
	return f.PromptTokens + f.CompletionTokens
}

// Outcome is how Serve answered.
type Outcome struct {
	// Err is the refusal to write when nothing was written yet.
	Err    *httperr.Error
	Status int   // the status written (when Err is nil)
	Bytes  int64 // body bytes written
	// AI is set once a provider was called.
	AI *Facts
	// Injection names the prompt-injection heuristics the prompt matched
	// (detect or block mode), for anomaly detection's alert.
	Injection []string
}

// Serve answers one request on the route: one of the three endpoints under
// the route's prefix, anything else 404 (405 for a wrong method).
func (rt *Route) Serve(w http.ResponseWriter, r *http.Request, call Call) Outcome {
	endpoint := strings.TrimPrefix(call.Path, rt.cfg.Prefix)
	var method string
	var serve func(http.ResponseWriter, *http.Request, Call) Outcome
	switch endpoint {
	case "/v1/chat/completions":
		method, serve = http.MethodPost, rt.chat
	case "/v1/embeddings":
		method, serve = http.MethodPost, rt.embeddings
	case "/v1/models":
		method, serve = http.MethodGet, rt.models
	default:
		if id, ok := strings.CutPrefix(endpoint, "/v1/models/"); ok && id != "" {
			method, serve = http.MethodGet, func(w http.ResponseWriter, _ *http.Request, _ Call) Outcome { return rt.model(w, id) }
			break
		}
		return Outcome{Err: httperr.New(http.StatusNotFound, httperr.DecisionNotFound,
			"no such endpoint; an AI route serves "+rt.cfg.Prefix+"/v1/chat/completions, /v1/embeddings and /v1/models[/ID]", nil)}
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		e := httperr.New(http.StatusMethodNotAllowed, httperr.DecisionMethodNotAllowed, "method not allowed", nil)
		e.Header = http.Header{"Allow": {method}}
		return Outcome{Err: e}
	}
	return serve(w, r, call)
}

func (rt *Route) models(w http.ResponseWriter, r *http.Request, _ Call) Outcome {
	return writeJSON(w, http.StatusOK, llm.ModelList{Object: "list", Data: rt.Models()})
}

// model answers GET /v1/models/{id} (the SDKs' models.retrieve) for an id
// that /v1/models lists; 404 otherwise. id is the path's segments after
// /v1/models/, so that PROVIDER/MODEL ids work unescaped.
func (rt *Route) model(w http.ResponseWriter, id string) Outcome {
	for _, m := range rt.Models() {
		if m.ID == id {
			return writeJSON(w, http.StatusOK, m)
		}
	}
	return Outcome{Err: httperr.New(http.StatusNotFound, httperr.DecisionNotFound, "this route serves no such model", nil)}
}

// invalid is a 400 for a request the gateway cannot take.
func invalid(public string, cause error) Outcome {
	return Outcome{Err: httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, public, cause)}
}

// readBody reads a JSON request body into v.
func readBody(r *http.Request, v any) *httperr.Error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return httperr.New(http.StatusUnsupportedMediaType, httperr.DecisionInvalid, "the body must be application/json", nil)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return httperr.New(http.StatusRequestEntityTooLarge, httperr.DecisionInvalid, "request body too large", nil)
		}
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "request body could not be read", err)
	}
	if err := llm.Unmarshal(body, v); err != nil {
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the body is not a valid request: "+jsonProblem(err), err)
	}
	return nil
}

// jsonProblem says what is wrong with a body without echoing it.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		return "member " + typ.Field + " has the wrong type"
	default:
		return err.Error()
	}
}

// writeJSON writes v as the whole answer.
func writeJSON(w http.ResponseWriter, status int, v any) Outcome {
	b, err := llm.Marshal(v)
	if err != nil {
		return Outcome{Err: httperr.New(http.StatusBadGateway, httperr.DecisionUpstreamError, "the provider's answer could not be relayed", err)}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	n, _ := w.Write(b)
	return Outcome{Status: status, Bytes: int64(n)}
}

// failed is the client's answer when no candidate answered: what the last
// failure was, in the gateway's words (a provider's error body is never
// relayed, and its own 401/403 — the gateway's key — is a 502).
func failed(err error) *httperr.Error {
	if errors.Is(err, llm.ErrUnsupported) {
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the model's provider does not support this endpoint", err)
	}
	var pe *llm.Error
	if !errors.As(err, &pe) {
		return httperr.New(http.StatusBadGateway, httperr.DecisionUpstreamError, "the AI provider could not be reached", err)
	}
	switch {
	case pe.Status == http.StatusTooManyRequests:
		e := httperr.New(http.StatusTooManyRequests, httperr.DecisionUpstreamError, "the AI providers are rate-limiting this gateway; retry later", err)
		e.Header = http.Header{"Retry-After": {"5"}}
		return e
	case pe.Status == http.StatusBadRequest || pe.Status == http.StatusNotFound || pe.Status == http.StatusUnprocessableEntity || pe.Status == http.StatusRequestEntityTooLarge:
		return httperr.New(http.StatusBadRequest, httperr.DecisionInvalid, "the AI provider refused the request as invalid", err)
	case pe.Status == http.StatusUnauthorized || pe.Status == http.StatusForbidden:
		return httperr.New(http.StatusBadGateway, httperr.DecisionUpstreamError, "the AI provider refused the gateway's credentials", err)
	case pe.Status == 0 && errors.Is(err, context.DeadlineExceeded):
		return httperr.New(http.StatusGatewayTimeout, httperr.DecisionUpstreamError, "the AI provider did not answer in time", err)
	default:
		return httperr.New(http.StatusBadGateway, httperr.DecisionUpstreamError, "the AI provider failed to answer", err)
	}
}

// timeout bounds one provider call: the whole call for a plain answer; for
// a stream, its first chunk (the relay then runs on without one).
func (rt *Route) timeout(p *Provider) time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return rt.cfg.Timeout
}
