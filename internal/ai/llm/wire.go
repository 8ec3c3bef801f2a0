// Package llm is the AI gateway's common language: the OpenAI chat
// completions, embeddings and models wire format (the one clients speak to
// the gateway), and the Provider interface each upstream LLM API implements
// behind it. A provider package translates between this form and its own
// API; an OpenAI-compatible one passes it through.
//
// Every struct keeps the JSON members it does not name in Extra, so that a
// request or response passes through an OpenAI-compatible provider with
// nothing lost (logprobs, response_format, seed, ...), while translating
// providers use the named fields only.
package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// ChatRequest is a POST /v1/chat/completions body.
type ChatRequest struct {
	Model               string         `json:"model"`
	Messages            []Message      `json:"messages"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *StreamOptions `json:"stream_options,omitempty"`
	MaxTokens           *int           `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int           `json:"max_completion_tokens,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	// Stop is a string or a list of strings.
	Stop       json.RawMessage `json:"stop,omitempty"`
	Tools      []Tool          `json:"tools,omitempty"`
	ToolChoice json.RawMessage `json:"tool_choice,omitempty"`
	User       string          `json:"user,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// StreamOptions asks a streaming response for a final usage chunk.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message. Content is a string, a list of parts, or
// null (an assistant message that only calls tools).
type Message struct {
	Role       string                     `json:"role"`
	Content    Content                    `json:"content"`
	Name       string                     `json:"name,omitempty"`
	ToolCalls  []ToolCall                 `json:"tool_calls,omitempty"`
	ToolCallID string                     `json:"tool_call_id,omitempty"`
	Extra      map[string]json.RawMessage `json:"-"`
}

// Content is a message's content: Text when it was a plain string, else
// Parts (text and image_url parts); Null when it was null or absent.
type Content struct {
	Text  string
	Parts []Part
	// IsParts says the client sent a list (kept as a list on the way out).
	IsParts bool
	Null    bool
}

// Part is one element of a content list.
type Part struct {
	Type     string                     `json:"type"` // text | image_url | ...
	Text     string                     `json:"text,omitempty"`
	ImageURL *ImageURL                  `json:"image_url,omitempty"`
	Extra    map[string]json.RawMessage `json:"-"`
}

// ImageURL is an image part's image: an https URL or a data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string   `json:"type"` // function
	Function Function `json:"function"`
}

// Function is a tool's declaration.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is the model's call of a tool. In a stream's delta, Index says
// which call a fragment belongs to and Arguments arrives in pieces.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"` // function
	Function FunctionCall `json:"function"`
}

// FunctionCall is a tool call's function and its JSON-encoded arguments.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ChatResponse is a non-streaming chat completion.
type ChatResponse struct {
	ID      string                     `json:"id"`
	Object  string                     `json:"object"` // chat.completion
	Created int64                      `json:"created"`
	Model   string                     `json:"model"`
	Choices []Choice                   `json:"choices"`
	Usage   *Usage                     `json:"usage,omitempty"`
	Extra   map[string]json.RawMessage `json:"-"`
}

// Choice is one completion of a ChatResponse.
type Choice struct {
	Index        int                        `json:"index"`
	Message      Message                    `json:"message"`
	FinishReason string                     `json:"finish_reason"`
	Extra        map[string]json.RawMessage `json:"-"`
}

// ChatChunk is one chat.completion.chunk of a streaming response. The last
// one of a stream whose client asked for usage has no choices and a Usage.
type ChatChunk struct {
	ID      string                     `json:"id"`
	Object  string                     `json:"object"` // chat.completion.chunk
	Created int64                      `json:"created"`
	Model   string                     `json:"model"`
	Choices []ChunkChoice              `json:"choices"`
	Usage   *Usage                     `json:"usage,omitempty"`
	Extra   map[string]json.RawMessage `json:"-"`
}

// ChunkChoice is one choice's increment in a chunk.
type ChunkChoice struct {
	Index        int                        `json:"index"`
	Delta        Delta                      `json:"delta"`
	FinishReason *string                    `json:"finish_reason"`
	Extra        map[string]json.RawMessage `json:"-"`
}

// Delta is what a chunk adds to a choice's message.
type Delta struct {
	Role      string                     `json:"role,omitempty"`
	Content   *string                    `json:"content,omitempty"`
	ToolCalls []ToolCall                 `json:"tool_calls,omitempty"`
	Extra     map[string]json.RawMessage `json:"-"`
}

// Usage is what a call cost in tokens, as the provider counted it.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks the prompt down; CachedTokens were read from
// the provider's prompt cache.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// CompletionTokensDetails breaks the completion down.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// EmbeddingsRequest is a POST /v1/embeddings body. Input is a string, a
// list of strings, or token arrays.
type EmbeddingsRequest struct {
	Model          string                     `json:"model"`
	Input          json.RawMessage            `json:"input"`
	EncodingFormat string                     `json:"encoding_format,omitempty"`
	Dimensions     *int                       `json:"dimensions,omitempty"`
	User           string                     `json:"user,omitempty"`
	Extra          map[string]json.RawMessage `json:"-"`
}

// EmbeddingsResponse is the answer to an EmbeddingsRequest.
type EmbeddingsResponse struct {
	Object string                     `json:"object"` // list
	Data   []Embedding                `json:"data"`
	Model  string                     `json:"model"`
	Usage  *Usage                     `json:"usage,omitempty"`
	Extra  map[string]json.RawMessage `json:"-"`
}

// Embedding is one input's vector: a list of floats, or base64 when the
// client asked for encoding_format base64 (kept as sent).
type Embedding struct {
	Object    string          `json:"object"` // embedding
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // model
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the answer to GET /v1/models.
type ModelList struct {
	Object string  `json:"object"` // list
	Data   []Model `json:"data"`
}

// MarshalJSON writes Content as a string, a list or null, as it came.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.IsParts:
		if c.Parts == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(c.Parts)
	case c.Null:
		return []byte("null"), nil
	default:
		return json.Marshal(c.Text)
	}
}

// UnmarshalJSON reads a string, a list of parts or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		c.Null = true
		return nil
	case b[0] == '"':
		// The common case, text without escapes, needs no decoder.
		if len(b) >= 2 && b[len(b)-1] == '"' {
			if body := b[1 : len(b)-1]; bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) && !hasControl(body) {
				c.Text = string(body)
				return nil
			}
		}
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		c.IsParts = true
		return json.Unmarshal(b, &c.Parts)
	default:
		return fmt.Errorf("content must be a string, a list of parts or null")
	}
}

// hasControl reports a byte JSON strings may not hold unescaped.
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' {
			return true
		}
	}
	return false
}

// PlainText is the content's text: the string, or its text parts joined by
// newlines.
func (c Content) PlainText() string {
	if !c.IsParts {
		return c.Text
	}
	var b []byte
	for _, p := range c.Parts {
		if p.Type == "text" {
			if len(b) > 0 {
				b = append(b, '\n')
			}
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

// TextContent is a Content holding the string s.
func TextContent(s string) Content { return Content{Text: s} }

// MaxOutputTokens is the completion limit the request sets: max_completion_tokens,
// else max_tokens; 0 when it sets none.
func (r *ChatRequest) MaxOutputTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// StopSequences reads stop, a string or a list of strings, without the
// empty ones (nil for none); ok is false when stop is neither.
func (r *ChatRequest) StopSequences() (seqs []string, ok bool) {
	raw := bytes.TrimSpace(r.Stop)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, true
		}
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return nil, false
	}
	for _, s := range many {
		if s != "" {
			seqs = append(seqs, s)
		}
	}
	return seqs, true
}

// Clone returns a copy of r that may be changed (model, messages, stream
// options) without changing r: each provider candidate gets its own.
func (r *ChatRequest) Clone() *ChatRequest {
	c := *r
	c.Messages = append([]Message(nil), r.Messages...)
	if r.StreamOptions != nil {
		so := *r.StreamOptions
		c.StreamOptions = &so
	}
	return &c
}
