package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Provider is one upstream LLM API behind the gateway. Requests reach it in
// the canonical form with Model already the provider's own model name (the
// gateway strips "PROVIDER/"); its answers come back in the canonical form
// with Model as the provider named it (the gateway rewrites it).
//
// Errors are *Error values: the gateway decides on them whether to try the
// next candidate, and never shows their text to the client.
type Provider interface {
	// Chat sends a non-streaming chat completion.
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
	// ChatStream sends a streaming chat completion. Its stream ends with a
	// chunk that has no choices and the call's Usage whenever the provider
	// reports usage, whatever the client asked: the gateway meters it and
	// drops it for a client that did not ask (stream_options). Cancelling
	// ctx stops the upstream call.
	ChatStream(ctx context.Context, req *ChatRequest) (ChunkStream, error)
	// Embeddings sends an embeddings request (ErrUnsupported when the API
	// has none).
	Embeddings(ctx context.Context, req *EmbeddingsRequest) (*EmbeddingsResponse, error)
}

// ChunkStream is a streaming answer, read chunk by chunk as it arrives.
type ChunkStream interface {
	// Next returns the next chunk, io.EOF after the last one, or an *Error.
	Next() (*ChatChunk, error)
	// Close releases the upstream connection; safe to call more than once.
	Close() error
}

// Error is a failed upstream call as the gateway sees it.
type Error struct {
	// Status is the provider's HTTP status; 0 when there was no answer
	// (a connection error or a timeout).
	Status int
	// Retryable says the next candidate may be tried: 429, 5xx, no answer.
	Retryable bool
	// Msg says what failed, for the log: never the provider's key, and
	// never shown to the client.
	Msg string
	Err error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Status != 0 {
		s = fmt.Sprintf("provider answered %d: %s", e.Status, s)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnsupported is returned for a request the provider's API cannot serve
// (embeddings on a chat-only API).
var ErrUnsupported = errors.New("not supported by this provider")

// StatusError is the Error for a provider's non-2xx answer: 429, 5xx and
// the statuses that mean the provider is overloaded are retryable.
func StatusError(status int, msg string) *Error {
	retry := status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout || status == 529
	return &Error{Status: status, Retryable: retry, Msg: msg}
}

// TransportError is the Error for a call that got no answer: retryable.
func TransportError(err error) *Error {
	return &Error{Retryable: true, Msg: "no answer from the provider", Err: err}
}

// ProtocolError is the Error for an answer that does not parse as the
// provider's format: retryable (another provider may do better).
func ProtocolError(err error) *Error {
	return &Error{Retryable: true, Msg: "the provider's answer could not be read", Err: err}
}

// ProviderConfig is what every provider package's New takes.
type ProviderConfig struct {
	// BaseURL is what the vendor's own SDK takes (CONTRACT §2); "" for the
	// vendor's public API.
	BaseURL string
	// Key is the provider's API key ("" for a server that needs none, such
	// as a local Ollama). It travels only in a header.
	Key string
	// Client makes the calls; its transport carries the pooled connections.
	Client *http.Client
}
