// Package openai is the provider for OpenAI's API and for every server that
// speaks it: the request passes through in the canonical form (which is
// OpenAI's), with what the gateway set — the model, stream_options — and
// whatever the client sent beyond the named fields. A Dialect describes what
// an OpenAI-compatible server does differently (see the mistral, qwen and
// ollama packages).
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// DefaultBaseURL is OpenAI's API, as its SDK takes it.
const DefaultBaseURL = "https://api.openai.com/v1"

// Dialect is how an OpenAI-compatible server differs from OpenAI.
type Dialect struct {
	// DefaultBaseURL is used when the AIProvider sets no baseURL ("": one
	// is required).
	DefaultBaseURL string
	// UsageAlways says the server ends every stream with its usage and
	// refuses stream_options, so none is sent.
	UsageAlways bool
	// Unsupported are request members the server refuses: they are
	// dropped (max_completion_tokens is sent as max_tokens).
	Unsupported []string
}

// OpenAI is OpenAI's own API.
var OpenAI = Dialect{DefaultBaseURL: DefaultBaseURL}

// Compatible is any OpenAI-compatible server (vLLM, LM Studio, llama.cpp,
// ...): baseURL is required.
var Compatible = Dialect{}

// Provider calls an OpenAI-compatible API.
type Provider struct {
	endpoint llm.Endpoint
	dialect  Dialect
}

// New returns the provider of cfg speaking dialect d.
func New(cfg llm.ProviderConfig, d Dialect) (*Provider, error) {
	raw := cfg.BaseURL
	if raw == "" {
		raw = d.DefaultBaseURL
	}
	if raw == "" {
		return nil, errors.New("baseURL is required")
	}
	base, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	header := http.Header{}
	if cfg.Key != "" {
		header.Set("Authorization", "Bearer "+cfg.Key)
	}
	return &Provider{endpoint: llm.Endpoint{BaseURL: base, Client: client, Header: header}, dialect: d}, nil
}

// outgoing adapts a request to the dialect.
func (p *Provider) outgoing(req *llm.ChatRequest) *llm.ChatRequest {
	if len(p.dialect.Unsupported) == 0 && !p.dialect.UsageAlways {
		return req
	}
	out := *req
	if p.dialect.UsageAlways {
		out.StreamOptions = nil
	}
	if len(p.dialect.Unsupported) > 0 {
		if out.MaxCompletionTokens != nil {
			out.MaxTokens, out.MaxCompletionTokens = out.MaxCompletionTokens, nil
		}
		out.Extra = make(map[string]json.RawMessage, len(req.Extra))
		for k, v := range req.Extra {
			out.Extra[k] = v
		}
		for _, k := range p.dialect.Unsupported {
			delete(out.Extra, k)
			if k == "user" {
				out.User = ""
			}
		}
	}
	return &out
}

// Chat implements llm.Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	out := req.Clone()
	out.Stream, out.StreamOptions = false, nil
	resp, err := p.endpoint.PostJSON(ctx, "/chat/completions", p.outgoing(out), nil)
	if err != nil {
		return nil, err
	}
	var answer llm.ChatResponse
	if err := llm.DecodeJSON(resp, &answer); err != nil {
		return nil, err
	}
	return &answer, nil
}

// ChatStream implements llm.Provider: it always asks for the usage chunk
// (unless the dialect sends it anyway).
func (p *Provider) ChatStream(ctx context.Context, req *llm.ChatRequest) (llm.ChunkStream, error) {
	out := req.Clone()
	out.Stream = true
	out.StreamOptions = &llm.StreamOptions{IncludeUsage: true}
	resp, err := p.endpoint.PostJSON(ctx, "/chat/completions", p.outgoing(out), http.Header{"Accept": {"text/event-stream"}})
	if err != nil {
		return nil, err
	}
	return &stream{body: resp.Body, events: llm.NewEventReader(resp.Body)}, nil
}

// Embeddings implements llm.Provider.
func (p *Provider) Embeddings(ctx context.Context, req *llm.EmbeddingsRequest) (*llm.EmbeddingsResponse, error) {
	resp, err := p.endpoint.PostJSON(ctx, "/embeddings", req, nil)
	if err != nil {
		return nil, err
	}
	var answer llm.EmbeddingsResponse
	if err := llm.DecodeJSON(resp, &answer); err != nil {
		return nil, err
	}
	return &answer, nil
}

// stream reads an OpenAI SSE stream: one chunk per data event until
// "[DONE]". A chunk that carries both choices and usage (as Mistral's last
// one does) is split in two, so that usage always comes alone, last.
type stream struct {
	body    io.ReadCloser
	events  *llm.EventReader
	pending *llm.ChatChunk
	done    bool
}

func (s *stream) Next() (*llm.ChatChunk, error) {
	if c := s.pending; c != nil {
		s.pending = nil
		return c, nil
	}
	if s.done {
		return nil, io.EOF
	}
	ev, err := s.events.Next()
	switch {
	case err == io.EOF:
		// A stream must end with [DONE]: one that stops short was cut.
		return nil, llm.ProtocolError(io.ErrUnexpectedEOF)
	case err != nil:
		return nil, llm.TransportError(err)
	case string(ev.Data) == "[DONE]":
		s.done = true
		return nil, io.EOF
	}
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(ev.Data, &probe) == nil && len(probe.Error) > 0 && string(probe.Error) != "null" {
		return nil, &llm.Error{Retryable: true, Msg: "the provider reported an error mid-stream: " + llm.ErrorSummary(ev.Data)}
	}
	var c llm.ChatChunk
	if err := llm.Unmarshal(ev.Data, &c); err != nil {
		return nil, llm.ProtocolError(err)
	}
	if c.Usage != nil && len(c.Choices) > 0 {
		u := c
		u.Choices, u.Extra = []llm.ChunkChoice{}, nil
		c.Usage = nil
		s.pending = &u
	}
	return &c, nil
}

func (s *stream) Close() error { return s.body.Close() }

// Buffered reports whether the next chunk can be read without waiting.
func (s *stream) Buffered() bool { return s.pending != nil || s.events.Buffered() }
