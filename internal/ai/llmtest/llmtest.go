// Package llmtest runs fake LLM provider APIs on loopback, each speaking one
// vendor's exact wire format (OpenAI, Anthropic, Gemini), for the AI
// gateway's tests and benchmarks. They behave deterministically so that a
// test can compute the exact answer and usage it expects:
//
//   - The answer to a chat is "echo: " followed by the text of the last user
//     message; with MaxTokens set it is cut to that many words (finish reason
//     "length").
//   - A word (a run of non-spaces) is a token: prompt tokens are the words of
//     every message's text (system prompt included), completion tokens the
//     words of the answer. A stream sends one word per chunk.
//   - When the request declares tools and its last message is the user's,
//     the answer is a call of the first tool with arguments
//     {"echo":"<last user text>"} instead of text.
//   - Embeddings answer one 3-float vector per input, one token per word.
//
// Every request is recorded (path, headers, body) so that a test can check
// what reached the provider: PII redacted, no client credential, the right
// key header. FailNext makes the next calls fail with given statuses.
package llmtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Recorded is one request the fake received.
type Recorded struct {
	Method string
	Path   string // with the query, if any
	Header http.Header
	Body   []byte
}

// Fake is a fake provider API. Its vendor's handler (NewOpenAI, NewAnthropic,
// NewGemini) serves the wire format; Fake holds what they share.
type Fake struct {
	// URL is the base URL as the vendor's SDK takes it (CONTRACT §2: with
	// /v1 for OpenAI, without a version for Anthropic and Gemini).
	URL string
	// Key is the API key the fake requires.
	Key string
	// ChunkDelay is slept before each streamed chunk (0: none), so that a
	// test can hang up mid-stream.
	ChunkDelay time.Duration

	mistral bool // the OpenAI fake speaks Mistral's variant (NewMistral)

	server *httptest.Server
	mu     sync.Mutex
	reqs   []Recorded
	fail   []int
	closed chan struct{}
}

func newFake(key string, h func(f *Fake) http.Handler) *Fake {
	f := &Fake{Key: key, closed: make(chan struct{})}
	f.server = httptest.NewServer(h(f))
	f.URL = f.server.URL
	return f
}

// Close stops the fake.
func (f *Fake) Close() {
	close(f.closed)
	f.server.Close()
}

// Requests returns the requests received so far.
func (f *Fake) Requests() []Recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Recorded(nil), f.reqs...)
}

// FailNext makes the next len(statuses) calls answer with those statuses
// (0: the connection is closed without an answer).
func (f *Fake) FailNext(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, statuses...)
}

// record keeps r (its body already read) and returns the failure status it
// must answer with, -1 for none.
func (f *Fake) record(r *http.Request, body []byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	f.reqs = append(f.reqs, Recorded{Method: r.Method, Path: path, Header: r.Header.Clone(), Body: body})
	if len(f.fail) == 0 {
		return -1
	}
	status := f.fail[0]
	f.fail = f.fail[1:]
	return status
}

// pause sleeps ChunkDelay, or returns false when the fake is closing or the
// client went away.
func (f *Fake) pause(r *http.Request) bool {
	if f.ChunkDelay == 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(f.ChunkDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-f.closed:
		return false
	}
}

// fail answers a failure status: 0 hangs up, anything else is the vendor's
// error body.
func fail(w http.ResponseWriter, status int, body string) {
	if status == 0 {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Words splits text into the fake's tokens.
func Words(text string) []string { return strings.Fields(text) }

// Answer is the fake's answer to a last user message, cut to maxTokens words
// when maxTokens > 0; cut says whether it was.
func Answer(lastUser string, maxTokens int) (words []string, cut bool) {
	words = append([]string{"echo:"}, Words(lastUser)...)
	if maxTokens > 0 && len(words) > maxTokens {
		return words[:maxTokens], true
	}
	return words, false
}

// StreamPieces are the chunks' texts of a streamed answer: each word with
// the space before it, so that they join to the answer's text.
func StreamPieces(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if i > 0 {
			w = " " + w
		}
		out[i] = w
	}
	return out
}
