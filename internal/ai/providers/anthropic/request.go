package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// request is a Messages API request body. Only what the canonical request
// can say is sent: the client's unknown members are dropped, since they are
// OpenAI's and would be refused here.
type request struct {
	Model         string      `json:"model"`
	System        string      `json:"system,omitempty"`
	Messages      []turn      `json:"messages"`
	MaxTokens     int         `json:"max_tokens"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

// turn is one message of a request: Anthropic's roles alternate, so each
// turn gathers the blocks of consecutive canonical messages of one role.
type turn struct {
	Role    string
	Content []block
}

// MarshalJSON writes a turn of a single text block with its content as a
// string, the API's short form, as its documentation writes it.
func (t turn) MarshalJSON() ([]byte, error) {
	type wire struct {
		Role    string `json:"role"`
		Content any    `json:"content"`
	}
	if len(t.Content) == 1 && t.Content[0].Type == "text" {
		return json.Marshal(wire{t.Role, t.Content[0].Text})
	}
	return json.Marshal(wire{t.Role, t.Content})
}

// block is a request content block: text, image, tool_use or tool_result.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *imageSource    `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   *string         `json:"content,omitempty"`
}

// imageSource is an image block's image: base64 data or a URL.
type imageSource struct {
	Type      string `json:"type"` // base64 | url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"` // auto | any | tool | none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// unsupported is the error of a request the Messages API cannot express:
// no other attempt of the same request would do better.
func unsupported(format string, args ...any) *llm.Error {
	return &llm.Error{Msg: "the request cannot be sent to Anthropic: " + fmt.Sprintf(format, args...)}
}

// translateRequest turns a canonical chat request into a Messages request.
func translateRequest(req *llm.ChatRequest) (*request, error) {
	if raw, ok := req.Extra["n"]; ok {
		var n int
		if json.Unmarshal(raw, &n) == nil && n > 1 {
			return nil, unsupported("n > 1: the Messages API answers one completion")
		}
	}
	out := &request{
		Model:       req.Model,
		MaxTokens:   req.MaxOutputTokens(),
		Temperature: req.Temperature,
		TopP:        req.TopP,
	}
	if out.MaxTokens <= 0 {
		out.MaxTokens = DefaultMaxTokens
	}
	if req.User != "" {
		out.Metadata = &metadata{UserID: req.User}
	}
	stop, ok := req.StopSequences()
	if !ok {
		return nil, unsupported("stop is neither a string nor a list of strings")
	}
	out.StopSequences = stop
	var err error

	var system []string
	for i, m := range req.Messages {
		var blocks []block
		role := m.Role
		switch m.Role {
		case "system", "developer":
			if s := m.Content.PlainText(); s != "" {
				system = append(system, s)
			}
			continue
		case "user":
			if blocks, err = contentBlocks(m.Content); err != nil {
				return nil, err
			}
		case "assistant":
			if blocks, err = contentBlocks(m.Content); err != nil {
				return nil, err
			}
			for _, tc := range m.ToolCalls {
				input, err := toolInput(tc.Function.Arguments)
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
			}
		case "tool":
			// A tool's result is the user's turn in the Messages API.
			role = "user"
			result := m.Content.PlainText()
			blocks = []block{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: &result}}
		default:
			return nil, unsupported("message %d has role %q", i, m.Role)
		}
		if len(blocks) == 0 {
			continue // the API refuses empty content
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
		} else {
			out.Messages = append(out.Messages, turn{Role: role, Content: blocks})
		}
	}
	out.System = strings.Join(system, "\n\n")
	if out.Messages == nil {
		out.Messages = []turn{}
	}

	if len(req.Tools) > 0 {
		for _, t := range req.Tools {
			if t.Type != "function" {
				return nil, unsupported("tool of type %q", t.Type)
			}
			schema := t.Function.Parameters
			if len(bytes.TrimSpace(schema)) == 0 || string(bytes.TrimSpace(schema)) == "null" {
				schema = json.RawMessage(`{"type":"object"}`)
			}
			out.Tools = append(out.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
		}
		if out.ToolChoice, err = translateToolChoice(req.ToolChoice, req.Extra["parallel_tool_calls"]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// contentBlocks turns a user or assistant message's content into blocks;
// empty text is left out, as the API refuses it.
func contentBlocks(c llm.Content) ([]block, error) {
	if !c.IsParts {
		if c.Text == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: c.Text}}, nil
	}
	var blocks []block
	for i, p := range c.Parts {
		switch p.Type {
		case "text":
			if p.Text != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, unsupported("image part %d has no URL", i)
			}
			src, err := imageFrom(p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, block{Type: "image", Source: src})
		default:
			return nil, unsupported("content part of type %q", p.Type)
		}
	}
	return blocks, nil
}

// imageFrom is the source of an image_url: a base64 data: URL's bytes, or
// any other URL for Anthropic to fetch.
func imageFrom(u string) (*imageSource, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return &imageSource{Type: "url", URL: u}, nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok || !strings.HasSuffix(meta, ";base64") {
		return nil, unsupported("an image data: URL that is not base64")
	}
	mediaType, _, _ := strings.Cut(meta, ";")
	if mediaType == "" {
		return nil, unsupported("an image data: URL without a media type")
	}
	return &imageSource{Type: "base64", MediaType: mediaType, Data: data}, nil
}

// toolInput is a tool call's arguments as the tool_use block's input: a
// JSON object ("" being none).
func toolInput(args string) (json.RawMessage, error) {
	b := bytes.TrimSpace([]byte(args))
	if len(b) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if b[0] != '{' || !json.Valid(b) {
		return nil, unsupported("tool call arguments that are not a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, unsupported("tool call arguments that are not a JSON object")
	}
	return buf.Bytes(), nil
}

// translateToolChoice maps tool_choice and parallel_tool_calls (an OpenAI
// member kept in Extra) to Anthropic's tool_choice; nil leaves the API's
// default (auto, parallel calls allowed).
func translateToolChoice(raw, parallel json.RawMessage) (*toolChoice, error) {
	var choice *toolChoice
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && string(raw) != "null" {
		var mode string
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		switch {
		case json.Unmarshal(raw, &mode) == nil:
			switch mode {
			case "auto":
				choice = &toolChoice{Type: "auto"}
			case "required":
				choice = &toolChoice{Type: "any"}
			case "none":
				choice = &toolChoice{Type: "none"}
			default:
				return nil, unsupported("tool_choice %q", mode)
			}
		case json.Unmarshal(raw, &named) == nil && named.Type == "function" && named.Function.Name != "":
			choice = &toolChoice{Type: "tool", Name: named.Function.Name}
		default:
			return nil, unsupported("a tool_choice that is not auto, required, none or a function")
		}
	}
	var allowParallel bool
	if json.Unmarshal(parallel, &allowParallel) == nil && !allowParallel {
		if choice == nil {
			choice = &toolChoice{Type: "auto"}
		}
		// "none" calls no tool at all: there is nothing to serialize.
		if choice.Type != "none" {
			choice.DisableParallelToolUse = true
		}
	}
	return choice, nil
}
