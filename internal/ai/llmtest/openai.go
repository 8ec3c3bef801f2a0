package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// openAIError is OpenAI's error body.
func openAIError(kind, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": nil}})
	return string(b)
}

// NewOpenAI starts a fake OpenAI API (…/v1/chat/completions, …/v1/embeddings)
// that requires "Authorization: Bearer key" (any, or none, when key is "").
// Its streams send the usage chunk only when asked (stream_options), as
// OpenAI does.
func NewOpenAI(key string) *Fake {
	f := newFake(key, func(f *Fake) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/chat/completions", f.openAIChat)
		mux.HandleFunc("POST /v1/embeddings", f.openAIEmbeddings)
		return mux
	})
	f.URL += "/v1"
	return f
}

// NewMistral starts a fake Mistral API: the OpenAI fake with Mistral's
// differences — members it does not know (stream_options, user, logprobs)
// are refused with 422, as Mistral refuses extra inputs, and every stream
// ends with its usage on the chunk that carries the finish reason.
func NewMistral(key string) *Fake {
	f := NewOpenAI(key)
	f.mistral = true
	return f
}

// mistralRefuses are request members the Mistral fake refuses.
var mistralRefuses = []string{"stream_options", "user", "logprobs"}

var openAISeq atomic.Int64

// openAIStart reads and records a request, checking its key; it returns the
// body, or nil when it has answered already.
func (f *Fake) openAIStart(w http.ResponseWriter, r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	status := f.record(r, body)
	if f.Key != "" && r.Header.Get("Authorization") != "Bearer "+f.Key {
		fail(w, http.StatusUnauthorized, openAIError("invalid_request_error", "Incorrect API key provided."))
		return nil
	}
	if status >= 0 {
		fail(w, status, openAIError("server_error", fmt.Sprintf("failure %d", status)))
		return nil
	}
	return body
}

func (f *Fake) openAIChat(w http.ResponseWriter, r *http.Request) {
	body := f.openAIStart(w, r)
	if body == nil {
		return
	}
	var req llm.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Messages) == 0 {
		fail(w, http.StatusBadRequest, openAIError("invalid_request_error", "model and messages are required"))
		return
	}
	if f.mistral {
		var members map[string]json.RawMessage
		_ = json.Unmarshal(body, &members)
		for _, name := range mistralRefuses {
			if _, ok := members[name]; ok {
				fail(w, http.StatusUnprocessableEntity, `{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","`+name+`"],"msg":"Extra inputs are not permitted"}]},"type":"invalid_request_error"}`)
				return
			}
		}
	}
	prompt, last := PromptWords(&req)
	words, cut := Answer(last, req.MaxOutputTokens())
	id := fmt.Sprintf("chatcmpl-fake%d", openAISeq.Add(1))
	usage := &llm.Usage{PromptTokens: prompt, CompletionTokens: len(words), TotalTokens: prompt + len(words)}
	finish := "stop"
	if cut {
		finish = "length"
	}
	var call *llm.ToolCall
	if len(req.Tools) > 0 && req.Messages[len(req.Messages)-1].Role == "user" {
		args, _ := json.Marshal(map[string]string{"echo": last})
		call = &llm.ToolCall{ID: "call_" + id, Type: "function", Function: llm.FunctionCall{Name: req.Tools[0].Function.Name, Arguments: string(args)}}
		usage.CompletionTokens = 1 + len(Words(last))
		usage.TotalTokens = prompt + usage.CompletionTokens
		finish = "tool_calls"
	}
	if !req.Stream {
		msg := llm.Message{Role: "assistant", Content: llm.TextContent(strings.Join(words, " "))}
		if call != nil {
			msg.Content, msg.ToolCalls = llm.Content{Null: true}, []llm.ToolCall{*call}
		}
		writeJSON(w, llm.ChatResponse{ID: id, Object: "chat.completion", Created: 1700000000, Model: req.Model,
			Choices: []llm.Choice{{Index: 0, Message: msg, FinishReason: finish}}, Usage: usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	send := func(c llm.ChatChunk) bool {
		if !f.pause(r) {
			return false
		}
		c.ID, c.Object, c.Created, c.Model = id, "chat.completion.chunk", 1700000000, req.Model
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		w.(http.Flusher).Flush()
		return true
	}
	empty := ""
	if !send(llm.ChatChunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Role: "assistant", Content: &empty}}}}) {
		return
	}
	if call != nil {
		zero := 0
		head := *call
		head.Index, head.Function.Arguments = &zero, ""
		if !send(llm.ChatChunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCall{head}}}}}) {
			return
		}
		if !send(llm.ChatChunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCall{{Index: &zero, Function: llm.FunctionCall{Arguments: call.Function.Arguments}}}}}}}) {
			return
		}
	} else {
		for _, piece := range StreamPieces(words) {
			if !send(llm.ChatChunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &piece}}}}) {
				return
			}
		}
	}
	finishChunk := llm.ChatChunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{}, FinishReason: &finish}}}
	if f.mistral {
		finishChunk.Usage = usage
	}
	if !send(finishChunk) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if !send(llm.ChatChunk{Choices: []llm.ChunkChoice{}, Usage: usage}) {
			return
		}
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}

func (f *Fake) openAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	body := f.openAIStart(w, r)
	if body == nil {
		return
	}
	var req llm.EmbeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" {
		fail(w, http.StatusBadRequest, openAIError("invalid_request_error", "model and input are required"))
		return
	}
	inputs, ok := EmbeddingInputs(req.Input)
	if !ok {
		fail(w, http.StatusBadRequest, openAIError("invalid_request_error", "input must be a string or a list of strings"))
		return
	}
	resp := llm.EmbeddingsResponse{Object: "list", Model: req.Model, Usage: &llm.Usage{}}
	for i, in := range inputs {
		resp.Data = append(resp.Data, llm.Embedding{Object: "embedding", Index: i, Embedding: json.RawMessage(Vector(in))})
		resp.Usage.PromptTokens += len(Words(in))
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	writeJSON(w, resp)
}

// PromptWords counts a canonical request's prompt tokens as the fakes do
// (the words of every message's text and tool-call arguments) and returns
// the last user message's text.
func PromptWords(req *llm.ChatRequest) (n int, lastUser string) {
	for _, m := range req.Messages {
		text := m.Content.PlainText()
		n += len(Words(text))
		for _, tc := range m.ToolCalls {
			n += len(Words(tc.Function.Arguments))
		}
		if m.Role == "user" {
			lastUser = text
		}
	}
	return n, lastUser
}

// EmbeddingInputs reads an embeddings input: a string or a list of strings.
func EmbeddingInputs(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many, true
	}
	return nil, false
}

// Vector is the fake's embedding of text: three floats from its length and
// word count, as a JSON array.
func Vector(text string) string {
	return fmt.Sprintf("[%d.5,%d.25,-0.125]", len(text)%10, len(Words(text))%10)
}

func writeJSON(w http.ResponseWriter, v any) { writeJSONAs(w, "application/json", v) }

// writeJSONAs answers v as JSON of the given content type.
func writeJSONAs(w http.ResponseWriter, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b)
}
