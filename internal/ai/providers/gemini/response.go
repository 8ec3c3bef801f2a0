package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// fromGemini translates a GenerateContentResponse into a canonical chat
// completion; model is the requested one, used when the answer names none.
func fromGemini(g *genResponse, model string) (*llm.ChatResponse, error) {
	r := &llm.ChatResponse{
		ID:      g.ResponseID,
		Object:  "chat.completion",
		Created: now(),
		Model:   g.ModelVersion,
		Choices: []llm.Choice{},
		Usage:   toUsage(g.UsageMetadata),
	}
	if r.ID == "" {
		r.ID = newID("chatcmpl-")
	}
	if r.Model == "" {
		r.Model = model
	}
	for i, c := range g.Candidates {
		text, hasText, calls, err := candidateParts(c.Content)
		if err != nil {
			return nil, err
		}
		msg := llm.Message{Role: "assistant", ToolCalls: calls}
		switch {
		case hasText || len(calls) == 0:
			msg.Content = llm.TextContent(text)
		default:
			msg.Content = llm.Content{Null: true}
		}
		r.Choices = append(r.Choices, llm.Choice{
			Index:        candidateIndex(c, i),
			Message:      msg,
			FinishReason: finishReason(c.FinishReason, len(calls) > 0),
		})
	}
	if len(r.Choices) == 0 {
		// A blocked prompt has no candidates, only the reason it was
		// blocked: the client sees an empty, filtered completion.
		if g.PromptFeedback == nil || g.PromptFeedback.BlockReason == "" {
			return nil, llm.ProtocolError(errors.New("the answer has no candidates"))
		}
		r.Choices = append(r.Choices, llm.Choice{
			Message:      llm.Message{Role: "assistant", Content: llm.TextContent("")},
			FinishReason: "content_filter",
		})
	}
	return r, nil
}

func candidateIndex(c candidate, pos int) int {
	if c.Index != nil {
		return *c.Index
	}
	return pos
}

// candidateParts reads a candidate's content: its text (thoughts left
// out), whether it had any, and its function calls as tool calls.
func candidateParts(c *content) (text string, hasText bool, calls []llm.ToolCall, err error) {
	if c == nil {
		return "", false, nil, nil
	}
	var b strings.Builder
	for _, p := range c.Parts {
		switch {
		case p.Thought:
		case p.Text != nil:
			b.WriteString(*p.Text)
			hasText = true
		case p.FunctionCall != nil:
			tc, err := toToolCall(p.FunctionCall)
			if err != nil {
				return "", false, nil, err
			}
			calls = append(calls, tc)
		}
	}
	return b.String(), hasText, calls, nil
}

// toToolCall is a function call as a canonical tool call, with an ID made
// up when Gemini gave none (it often does not).
func toToolCall(fc *functionCall) (llm.ToolCall, error) {
	args := "{}"
	if a := bytes.TrimSpace(fc.Args); len(a) > 0 && string(a) != "null" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, a); err != nil {
			return llm.ToolCall{}, llm.ProtocolError(err)
		}
		args = buf.String()
	}
	id := fc.ID
	if id == "" {
		id = newID("call_")
	}
	return llm.ToolCall{ID: id, Type: "function", Function: llm.FunctionCall{Name: fc.Name, Arguments: args}}, nil
}

// finishReason maps Gemini's finish reason to OpenAI's; a candidate that
// stopped to call functions finished with "tool_calls".
func finishReason(reason string, calledTools bool) string {
	switch reason {
	case "STOP":
		if calledTools {
			return "tool_calls"
		}
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return "content_filter"
	}
	return "stop"
}

// toUsage translates usageMetadata: thoughts are completion tokens (they
// are billed as output), tool-use prompt tokens are prompt tokens.
func toUsage(u *usageMetadata) *llm.Usage {
	if u == nil {
		return nil
	}
	out := &llm.Usage{
		PromptTokens:     u.PromptTokenCount + u.ToolUsePromptTokenCount,
		CompletionTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
		TotalTokens:      u.TotalTokenCount,
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	if u.CachedContentTokenCount > 0 {
		out.PromptTokensDetails = &llm.PromptTokensDetails{CachedTokens: u.CachedContentTokenCount}
	}
	if u.ThoughtsTokenCount > 0 {
		out.CompletionTokensDetails = &llm.CompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount}
	}
	return out
}
