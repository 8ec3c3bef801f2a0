package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// geminiError is Google's error body.
func geminiError(code int, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": geminiStatus(code)}})
	return string(b)
}

// geminiStatus is the google.rpc.Code name Google sends with an HTTP status.
func geminiStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "UNKNOWN"
}

// NewGemini starts a fake Gemini API (…/v1beta/models/{model}:generateContent,
// :streamGenerateContent?alt=sse and :batchEmbedContents) that requires the
// key in the x-goog-api-key header (any, or none, when key is ""): a key in
// the URL's query is refused even when right, since the gateway must never
// put it there.
//
// Gemini's form of the deterministic behaviour (package doc): the prompt's
// words are those of the systemInstruction's text and of every content's
// text parts, functionCall args and functionResponse parts (each
// JSON-encoded); the last user message is the last user content with text.
// When tools are declared and the last content is the user's text, the
// answer is one functionCall without an id (as the real API commonly sends)
// costing 1 + the words of that text, like the OpenAI fake's tool call.
// Streams send one answer per word, the finish reason and usageMetadata
// with the last; embeddings report no usage, as Gemini does.
func NewGemini(key string) *Fake {
	return newFake(key, func(f *Fake) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1beta/models/{call}", f.gemini)
		return mux
	})
}

var geminiSeq atomic.Int64

type geminiPart struct {
	Text             *string         `json:"text,omitempty"`
	FunctionCall     json.RawMessage `json:"functionCall,omitempty"`
	FunctionResponse json.RawMessage `json:"functionResponse,omitempty"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

type geminiRequest struct {
	Contents          []geminiContent `json:"contents"`
	SystemInstruction *geminiContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name string `json:"name"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	GenerationConfig struct {
		MaxOutputTokens int `json:"maxOutputTokens"`
	} `json:"generationConfig"`
}

func (f *Fake) gemini(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	status := f.record(r, body)
	if r.URL.Query().Has("key") {
		fail(w, http.StatusForbidden, geminiError(http.StatusForbidden, "The API key must be sent in the x-goog-api-key header."))
		return
	}
	if f.Key != "" && r.Header.Get("x-goog-api-key") != f.Key {
		fail(w, http.StatusForbidden, geminiError(http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."))
		return
	}
	if status >= 0 {
		fail(w, status, geminiError(status, fmt.Sprintf("failure %d", status)))
		return
	}
	model, method, ok := strings.Cut(r.PathValue("call"), ":")
	if !ok || model == "" {
		fail(w, http.StatusNotFound, geminiError(http.StatusNotFound, "no such method"))
		return
	}
	switch method {
	case "generateContent":
		f.geminiGenerate(w, r, model, body, false)
	case "streamGenerateContent":
		if r.URL.Query().Get("alt") != "sse" {
			fail(w, http.StatusBadRequest, geminiError(http.StatusBadRequest, "the fake streams with alt=sse only"))
			return
		}
		f.geminiGenerate(w, r, model, body, true)
	case "batchEmbedContents":
		geminiEmbed(w, model, body)
	default:
		fail(w, http.StatusNotFound, geminiError(http.StatusNotFound, "no such method "+method))
	}
}

// geminiText is a content's text parts joined.
func geminiText(c *geminiContent) (string, bool) {
	var texts []string
	for _, p := range c.Parts {
		if p.Text != nil {
			texts = append(texts, *p.Text)
		}
	}
	return strings.Join(texts, " "), len(texts) > 0
}

// geminiPrompt counts a request's prompt words and finds the last user
// text and whether the last content is it.
func geminiPrompt(req *geminiRequest) (n int, lastUser string, endsWithUser bool) {
	if req.SystemInstruction != nil {
		text, _ := geminiText(req.SystemInstruction)
		n += len(Words(text))
	}
	for i := range req.Contents {
		c := &req.Contents[i]
		text, hasText := geminiText(c)
		n += len(Words(text))
		for _, p := range c.Parts {
			for _, raw := range []json.RawMessage{p.FunctionCall, p.FunctionResponse} {
				if len(raw) > 0 {
					b, _ := json.Marshal(raw) // compact, as an encoder sends it
					n += len(Words(string(b)))
				}
			}
		}
		if (c.Role == "user" || c.Role == "") && hasText {
			lastUser = text
		}
		if i == len(req.Contents)-1 && (c.Role == "user" || c.Role == "") && len(c.Parts) > 0 {
			endsWithUser = c.Parts[len(c.Parts)-1].Text != nil
		}
	}
	return n, lastUser, endsWithUser
}

func (f *Fake) geminiGenerate(w http.ResponseWriter, r *http.Request, model string, body []byte, stream bool) {
	var req geminiRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Contents) == 0 {
		fail(w, http.StatusBadRequest, geminiError(http.StatusBadRequest, "contents is not specified"))
		return
	}
	prompt, last, endsWithUser := geminiPrompt(&req)
	words, cut := Answer(last, req.GenerationConfig.MaxOutputTokens)
	id := fmt.Sprintf("fakeGemini%d", geminiSeq.Add(1))
	finish := "STOP"
	if cut {
		finish = "MAX_TOKENS"
	}
	completion := len(words)
	var call map[string]any
	if len(req.Tools) > 0 && len(req.Tools[0].FunctionDeclarations) > 0 && endsWithUser {
		call = map[string]any{"name": req.Tools[0].FunctionDeclarations[0].Name, "args": map[string]string{"echo": last}}
		completion = 1 + len(Words(last))
		finish = "STOP"
	}
	usage := map[string]any{
		"promptTokenCount":     prompt,
		"candidatesTokenCount": completion,
		"totalTokenCount":      prompt + completion,
		"promptTokensDetails":  []any{map[string]any{"modality": "TEXT", "tokenCount": prompt}},
	}
	answer := func(parts []any, finish string, usage map[string]any) map[string]any {
		cand := map[string]any{"content": map[string]any{"parts": parts, "role": "model"}, "index": 0}
		if finish != "" {
			cand["finishReason"] = finish
		}
		a := map[string]any{"candidates": []any{cand}, "modelVersion": model, "responseId": id}
		if usage != nil {
			a["usageMetadata"] = usage
		}
		return a
	}
	if !stream {
		parts := []any{map[string]any{"text": strings.Join(words, " ")}}
		if call != nil {
			parts = []any{map[string]any{"functionCall": call}}
		}
		geminiJSON(w, answer(parts, finish, usage))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(v any) bool {
		if !f.pause(r) {
			return false
		}
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\r\n\r\n", b); err != nil {
			return false
		}
		w.(http.Flusher).Flush()
		return true
	}
	if call != nil {
		send(answer([]any{map[string]any{"functionCall": call}}, finish, usage))
		return
	}
	pieces := StreamPieces(words)
	for i, piece := range pieces {
		if i < len(pieces)-1 {
			if !send(answer([]any{map[string]any{"text": piece}}, "", nil)) {
				return
			}
			continue
		}
		send(answer([]any{map[string]any{"text": piece}}, finish, usage))
	}
}

func geminiEmbed(w http.ResponseWriter, model string, body []byte) {
	var req struct {
		Requests []struct {
			Model   string        `json:"model"`
			Content geminiContent `json:"content"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Requests) == 0 {
		fail(w, http.StatusBadRequest, geminiError(http.StatusBadRequest, "requests is not specified"))
		return
	}
	var out []any
	for _, in := range req.Requests {
		if in.Model != "models/"+model {
			fail(w, http.StatusBadRequest, geminiError(http.StatusBadRequest, "the model of each request must match the batch's model"))
			return
		}
		text, _ := geminiText(&in.Content)
		out = append(out, map[string]any{"values": json.RawMessage(Vector(text))})
	}
	geminiJSON(w, map[string]any{"embeddings": out})
}

// geminiJSON answers v as Google's APIs do, with a charset.
func geminiJSON(w http.ResponseWriter, v any) { writeJSONAs(w, "application/json; charset=UTF-8", v) }
