package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// anthropicError is Anthropic's error body.
func anthropicError(kind, msg string) string {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": kind, "message": msg}})
	return string(b)
}

// anthropicErrorType is the error type Anthropic documents for a status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// NewAnthropic starts a fake Anthropic Messages API (POST /v1/messages)
// that requires "x-api-key: key" (any, or none, when key is "") and an
// anthropic-version header. Tool results count as the user's turn, as the
// API has them: a conversation whose last user message holds only tool
// results is answered with text.
func NewAnthropic(key string) *Fake {
	return newFake(key, func(f *Fake) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/messages", f.anthropicMessages)
		return mux
	})
}

var anthropicSeq atomic.Int64

// anthropicRequest is what the fake reads of a Messages request.
type anthropicRequest struct {
	Model    string          `json:"model"`
	System   json.RawMessage `json:"system"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	MaxTokens *int `json:"max_tokens"`
	Stream    bool `json:"stream"`
	Tools     []struct {
		Name string `json:"name"`
	} `json:"tools"`
}

// anthropicBlock is a request content block, as far as the fake counts it.
type anthropicBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Input   json.RawMessage `json:"input"`
	Content json.RawMessage `json:"content"` // a tool_result's
}

// anthropicBlocks reads a content (or system) member: a string is one text
// block, null none.
func anthropicBlocks(raw json.RawMessage) ([]anthropicBlock, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlock
	err := json.Unmarshal(raw, &blocks)
	return blocks, err
}

// anthropicText is the text of blocks: their text blocks' joined.
func anthropicText(blocks []anthropicBlock) (string, bool) {
	var texts []string
	for _, b := range blocks {
		if b.Type == "text" {
			texts = append(texts, b.Text)
		}
	}
	return strings.Join(texts, "\n"), len(texts) > 0
}

// anthropicPrompt counts a request's prompt tokens as the fakes do (the
// words of the system prompt, text blocks, tool results and tool inputs, as
// PromptWords counts a canonical request's), and returns the last user
// text and whether the last message is the user's own (not only tool
// results).
func anthropicPrompt(req *anthropicRequest) (n int, lastUser string, userLast bool, err error) {
	system, err := anthropicBlocks(req.System)
	if err != nil {
		return 0, "", false, err
	}
	text, _ := anthropicText(system)
	n = len(Words(text))
	for _, m := range req.Messages {
		blocks, err := anthropicBlocks(m.Content)
		if err != nil {
			return 0, "", false, err
		}
		text, hasText := anthropicText(blocks)
		n += len(Words(text))
		userLast = false
		for _, b := range blocks {
			switch b.Type {
			case "tool_use":
				n += len(Words(string(b.Input)))
			case "tool_result":
				inner, err := anthropicBlocks(b.Content)
				if err != nil {
					return 0, "", false, err
				}
				result, _ := anthropicText(inner)
				n += len(Words(result))
			default:
				userLast = m.Role == "user"
			}
		}
		if m.Role == "user" && hasText {
			lastUser = text
		}
	}
	return n, lastUser, userLast, nil
}

func (f *Fake) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	status := f.record(r, body)
	if f.Key != "" && r.Header.Get("X-Api-Key") != f.Key {
		fail(w, http.StatusUnauthorized, anthropicError("authentication_error", "invalid x-api-key"))
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		fail(w, http.StatusBadRequest, anthropicError("invalid_request_error", "anthropic-version: header is required"))
		return
	}
	if status >= 0 {
		fail(w, status, anthropicError(anthropicErrorType(status), fmt.Sprintf("failure %d", status)))
		return
	}
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Messages) == 0 {
		fail(w, http.StatusBadRequest, anthropicError("invalid_request_error", "model and messages are required"))
		return
	}
	if req.MaxTokens == nil {
		fail(w, http.StatusBadRequest, anthropicError("invalid_request_error", "max_tokens: Field required"))
		return
	}
	prompt, last, userLast, err := anthropicPrompt(&req)
	if err != nil {
		fail(w, http.StatusBadRequest, anthropicError("invalid_request_error", "messages: content is not valid"))
		return
	}
	words, cut := Answer(last, *req.MaxTokens)
	seq := anthropicSeq.Add(1)
	id := fmt.Sprintf("msg_fake%d", seq)
	completion := len(words)
	stop := "end_turn"
	if cut {
		stop = "max_tokens"
	}
	var call map[string]any // the tool_use block, when the answer is one
	var args string
	if len(req.Tools) > 0 && userLast {
		b, _ := json.Marshal(map[string]string{"echo": last})
		args = string(b)
		call = map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_fake%d", seq), "name": req.Tools[0].Name, "input": json.RawMessage(args)}
		completion = 1 + len(Words(last))
		stop = "tool_use"
	}
	usage := func(output int) map[string]int {
		return map[string]int{"input_tokens": prompt, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": output}
	}
	msg := map[string]any{"id": id, "type": "message", "role": "assistant", "model": req.Model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": usage(1)}

	if !req.Stream {
		msg["content"] = []any{map[string]any{"type": "text", "text": strings.Join(words, " ")}}
		if call != nil {
			msg["content"] = []any{call}
		}
		msg["stop_reason"], msg["usage"] = stop, usage(completion)
		b, _ := json.Marshal(msg)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		return
	}

	// The stream opens at once, so that a ChunkDelay holds back its events
	// and not the answer's headers.
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	send := func(typ string, data map[string]any) bool {
		if !f.pause(r) {
			return false
		}
		data["type"] = typ
		b, _ := json.Marshal(data)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b); err != nil {
			return false
		}
		w.(http.Flusher).Flush()
		return true
	}
	delta := func(d map[string]any) bool {
		return send("content_block_delta", map[string]any{"index": 0, "delta": d})
	}
	if !send("message_start", map[string]any{"message": msg}) {
		return
	}
	start := map[string]any{"type": "text", "text": ""}
	if call != nil {
		start = map[string]any{"type": "tool_use", "id": call["id"], "name": call["name"], "input": map[string]any{}}
	}
	if !send("content_block_start", map[string]any{"index": 0, "content_block": start}) || !send("ping", map[string]any{}) {
		return
	}
	if call != nil {
		// As the API does: an empty first piece, then the input in parts.
		head, rest := args[:len(`{"echo":`)], args[len(`{"echo":`):]
		for _, piece := range []string{"", head, rest} {
			if !delta(map[string]any{"type": "input_json_delta", "partial_json": piece}) {
				return
			}
		}
	} else {
		for _, piece := range StreamPieces(words) {
			if !delta(map[string]any{"type": "text_delta", "text": piece}) {
				return
			}
		}
	}
	if !send("content_block_stop", map[string]any{"index": 0}) ||
		!send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]int{"output_tokens": completion}}) {
		return
	}
	send("message_stop", map[string]any{})
}
