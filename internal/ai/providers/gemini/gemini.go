// Package gemini is the AI gateway's provider for the Google Gemini API
// (generativelanguage.googleapis.com, v1beta): chat completions through
// generateContent and streamGenerateContent, embeddings through
// batchEmbedContents, each translated from and to the canonical OpenAI
// form of package llm.
package gemini

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// DefaultBaseURL is the public Gemini API, without a version, as Google's
// SDKs take it.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

// apiVersion is the path segment of the API version the wire types follow.
const apiVersion = "/v1beta"

// Provider calls one Gemini API endpoint with one key.
type Provider struct {
	ep llm.Endpoint
}

var _ llm.Provider = (*Provider)(nil)

// New makes a Provider. The key travels in the x-goog-api-key header only:
// a key in the URL would end up in access logs along the way.
func New(cfg llm.ProviderConfig) (*Provider, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, errors.New("gemini: the base URL does not parse")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("gemini: the base URL must be an absolute http or https URL")
	}
	if u.User != nil || u.Query().Has("key") {
		return nil, errors.New("gemini: the base URL must not carry credentials (the key goes in ProviderConfig.Key)")
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	h := http.Header{}
	if cfg.Key != "" {
		h.Set("x-goog-api-key", cfg.Key)
	}
	return &Provider{ep: llm.Endpoint{BaseURL: u, Client: client, Header: h}}, nil
}

// modelName is the model's ID without the "models/" prefix the API's
// resource names carry, so that either form may be configured.
func modelName(model string) string {
	return strings.TrimPrefix(model, "models/")
}

// methodURL is the URL of a model's method ("generateContent"), the model
// escaped as one path segment so that no model name can reach another path.
func (p *Provider) methodURL(model, method string, query url.Values) string {
	u := *p.ep.BaseURL
	prefix := strings.TrimSuffix(u.EscapedPath(), "/")
	basePath := strings.TrimSuffix(u.Path, "/")
	m := modelName(model)
	rest := apiVersion + "/models/"
	u.Path = basePath + rest + m + ":" + method
	u.RawPath = prefix + rest + url.PathEscape(m) + ":" + method
	q := u.Query()
	for k, v := range query {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String()
}

// post sends body as JSON to a model's method.
func (p *Provider) post(ctx context.Context, model, method string, query url.Values, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &llm.Error{Msg: "the request could not be encoded", Err: err}
	}
	return p.ep.Do(ctx, http.MethodPost, p.methodURL(model, method, query), b, nil)
}

// Chat sends a generateContent request.
func (p *Provider) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	greq, err := toGemini(req)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, req.Model, "generateContent", nil, greq)
	if err != nil {
		return nil, err
	}
	var gresp genResponse
	if err := llm.DecodeJSON(resp, &gresp); err != nil {
		return nil, err
	}
	return fromGemini(&gresp, req.Model)
}

// ChatStream sends a streamGenerateContent request as server-sent events.
// It reads the stream up to its first chunk before it returns, so that a
// stream that fails at once is an error the gateway can fail over on.
func (p *Provider) ChatStream(ctx context.Context, req *llm.ChatRequest) (llm.ChunkStream, error) {
	greq, err := toGemini(req)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, req.Model, "streamGenerateContent", url.Values{"alt": {"sse"}}, greq)
	if err != nil {
		return nil, err
	}
	s := newStream(ctx, resp.Body, req.Model)
	if err := s.fill(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// newID makes the IDs Gemini does not give (a completion's, a function
// call's): prefix and 24 random hex digits. Tests replace it to get
// deterministic output.
var newID = func(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// now is the completion's creation time; a variable for the same reason.
var now = func() int64 { return time.Now().Unix() }

// badRequest is the Error for a request that cannot be translated: no other
// provider would do better with it, so it is not retryable.
func badRequest(msg string) *llm.Error {
	return &llm.Error{Msg: msg}
}
