package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// message is a Messages API answer (and the skeleton of a stream's
// message_start).
type message struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"` // message
	Role       string         `json:"role"`
	Model      string         `json:"model"`
	Content    []contentBlock `json:"content"`
	StopReason string         `json:"stop_reason"`
	Usage      usage          `json:"usage"`
}

// contentBlock is a block of an answer: text and tool_use are translated,
// the others (thinking, ...) have no canonical form and are left out.
type contentBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// usage is the API's count of tokens. The members are pointers so that a
// stream's message_delta, which may carry only some, updates only those.
type usage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
}

// update sets the members of u that v carries.
func (u *usage) update(v *usage) {
	if v == nil {
		return
	}
	set := func(dst **int, src *int) {
		if src != nil {
			*dst = src
		}
	}
	set(&u.InputTokens, v.InputTokens)
	set(&u.OutputTokens, v.OutputTokens)
	set(&u.CacheCreationInputTokens, v.CacheCreationInputTokens)
	set(&u.CacheReadInputTokens, v.CacheReadInputTokens)
}

// canonical is u in the canonical form: Anthropic counts the prompt's
// cached tokens apart from input_tokens, OpenAI within prompt_tokens.
func (u *usage) canonical() *llm.Usage {
	n := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	created, read := n(u.CacheCreationInputTokens), n(u.CacheReadInputTokens)
	out := &llm.Usage{
		PromptTokens:     n(u.InputTokens) + created + read,
		CompletionTokens: n(u.OutputTokens),
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	if created > 0 || read > 0 {
		out.PromptTokensDetails = &llm.PromptTokensDetails{CachedTokens: read}
	}
	return out
}

// finishReason maps a stop_reason to OpenAI's finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn, and any new reason
		return "stop"
	}
}

// arguments is a tool_use input as a tool call's arguments: compact JSON.
func arguments(input json.RawMessage) string {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(input)) == 0 || json.Compact(&buf, input) != nil || buf.String() == "null" {
		return "{}"
	}
	return buf.String()
}

// translateResponse turns a Messages API answer into a chat completion.
func translateResponse(m *message, created int64) (*llm.ChatResponse, error) {
	if m.Type != "message" {
		return nil, llm.ProtocolError(fmt.Errorf("an answer of type %q, not a message", m.Type))
	}
	var text strings.Builder
	hasText := false
	var calls []llm.ToolCall
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			hasText = true
		case "tool_use":
			calls = append(calls, llm.ToolCall{ID: b.ID, Type: "function",
				Function: llm.FunctionCall{Name: b.Name, Arguments: arguments(b.Input)}})
		}
	}
	msg := llm.Message{Role: "assistant", Content: llm.TextContent(text.String()), ToolCalls: calls}
	if !hasText && len(calls) > 0 {
		msg.Content = llm.Content{Null: true}
	}
	return &llm.ChatResponse{
		ID:      m.ID,
		Object:  "chat.completion",
		Created: created,
		Model:   m.Model,
		Choices: []llm.Choice{{Index: 0, Message: msg, FinishReason: finishReason(m.StopReason)}},
		Usage:   m.Usage.canonical(),
	}, nil
}
