// Package anthropic is the provider for Anthropic's Messages API: it
// translates the canonical (OpenAI) chat request into a Messages request,
// and the message or its event stream back into the canonical form. The
// API has no embeddings.
package anthropic

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// DefaultBaseURL is Anthropic's API, as its SDK takes it (without a version:
// the path carries it).
const DefaultBaseURL = "https://api.anthropic.com"

// Version is the anthropic-version header every request carries: the wire
// format this package speaks.
const Version = "2023-06-01"

// DefaultMaxTokens is the max_tokens sent when the client sets no limit:
// the Messages API requires one, OpenAI's does not.
const DefaultMaxTokens = 4096

// messagesPath is where the Messages API is, under the base URL.
const messagesPath = "/v1/messages"

// Provider calls Anthropic's Messages API.
type Provider struct {
	endpoint llm.Endpoint
}

// New returns the provider of cfg.
func New(cfg llm.ProviderConfig) (*Provider, error) {
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, which may carry credentials.
		return nil, errors.New("baseURL is not a valid URL")
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("baseURL must be an http or https URL")
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	header := http.Header{"Anthropic-Version": {Version}}
	if cfg.Key != "" {
		header.Set("X-Api-Key", cfg.Key)
	}
	return &Provider{endpoint: llm.Endpoint{BaseURL: base, Client: client, Header: header}}, nil
}

// Chat implements llm.Provider.
func (p *Provider) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	body, err := translateRequest(req)
	if err != nil {
		return nil, err
	}
	resp, err := p.endpoint.PostJSON(ctx, messagesPath, body, nil)
	if err != nil {
		return nil, err
	}
	var msg message
	if err := llm.DecodeJSON(resp, &msg); err != nil {
		return nil, err
	}
	return translateResponse(&msg, time.Now().Unix())
}

// ChatStream implements llm.Provider. The Messages API always reports
// usage, so the stream always ends with the usage chunk.
func (p *Provider) ChatStream(ctx context.Context, req *llm.ChatRequest) (llm.ChunkStream, error) {
	body, err := translateRequest(req)
	if err != nil {
		return nil, err
	}
	body.Stream = true
	resp, err := p.endpoint.PostJSON(ctx, messagesPath, body, http.Header{"Accept": {"text/event-stream"}})
	if err != nil {
		return nil, err
	}
	return newStream(ctx, resp.Body, time.Now().Unix()), nil
}

// Embeddings implements llm.Provider: the Messages API has none.
func (p *Provider) Embeddings(context.Context, *llm.EmbeddingsRequest) (*llm.EmbeddingsResponse, error) {
	return nil, llm.ErrUnsupported
}
