package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// event is one event of a Messages stream; which members it has depends on
// its type.
type event struct {
	Type         string        `json:"type"`
	Message      *message      `json:"message"`       // message_start
	Index        int           `json:"index"`         // content_block_*
	ContentBlock *contentBlock `json:"content_block"` // content_block_start
	Delta        struct {
		Type        string `json:"type"`         // content_block_delta: text_delta | input_json_delta | ...
		Text        string `json:"text"`         // text_delta
		PartialJSON string `json:"partial_json"` // input_json_delta
		StopReason  string `json:"stop_reason"`  // message_delta
	} `json:"delta"`
	Usage *usage    `json:"usage"` // message_delta
	Error *apiError `json:"error"` // error
}

// apiError is the error object of an error body or event.
type apiError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorStatus is the HTTP status Anthropic documents for each error type,
// for an error that arrives as an event of a stream already answered 200.
var errorStatus = map[string]int{
	"invalid_request_error": 400,
	"authentication_error":  401,
	"billing_error":         402,
	"permission_error":      403,
	"not_found_error":       404,
	"request_too_large":     413,
	"rate_limit_error":      429,
	"api_error":             500,
	"overloaded_error":      529,
}

// stream translates a Messages event stream into chat.completion.chunks.
type stream struct {
	ctx     context.Context
	body    io.ReadCloser
	events  *llm.EventReader
	created int64
	closer  sync.Once

	started bool
	id      string
	model   string
	// tools maps a tool_use block's index among all blocks to its index
	// among the tool calls, which is what a canonical delta names.
	tools map[int]int
	usage usage
	// err is returned by every Next once the stream has ended: io.EOF after
	// message_stop, else the error that ended it.
	err error
}

func newStream(ctx context.Context, body io.ReadCloser, created int64) *stream {
	return &stream{ctx: ctx, body: body, events: llm.NewEventReader(body), created: created, tools: map[int]int{}}
}

// Close implements llm.ChunkStream.
func (s *stream) Close() error {
	var err error
	s.closer.Do(func() { err = s.body.Close() })
	return err
}

// Next implements llm.ChunkStream.
func (s *stream) Next() (*llm.ChatChunk, error) {
	for s.err == nil {
		ev, err := s.events.Next()
		if err != nil {
			s.err = s.readError(err)
			break
		}
		c, err := s.translate(ev)
		if err != nil {
			s.err = err
			break
		}
		if c != nil {
			return c, nil
		}
	}
	return nil, s.err
}

// readError is the Error of a stream that could not be read to its end.
func (s *stream) readError(err error) error {
	switch {
	case s.ctx.Err() != nil:
		return &llm.Error{Msg: "cancelled", Err: s.ctx.Err()}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return llm.ProtocolError(errors.New("the stream ended before message_stop"))
	default:
		return llm.TransportError(err)
	}
}

// translate turns one event into the chunk it makes, nil for none; after
// message_stop it sets s.err to io.EOF.
func (s *stream) translate(ev llm.Event) (*llm.ChatChunk, error) {
	var e event
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		// An event type added to the API later may be shaped otherwise:
		// only its type is needed to skip it.
		var head struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(ev.Data, &head) != nil || known(head.Type) {
			return nil, llm.ProtocolError(fmt.Errorf("a %q event that is not valid: %w", ev.Type, err))
		}
		return nil, nil
	}
	if e.Type == "" {
		e.Type = ev.Type
	}
	switch e.Type {
	case "ping":
		return nil, nil
	case "error":
		return nil, streamError(e.Error, ev.Data)
	case "message_start":
		if s.started {
			return nil, llm.ProtocolError(errors.New("a second message_start"))
		}
		if e.Message == nil {
			return nil, llm.ProtocolError(errors.New("a message_start without its message"))
		}
		s.started = true
		s.id, s.model = e.Message.ID, e.Message.Model
		s.usage.update(&e.Message.Usage)
		empty := ""
		return s.chunk(llm.Delta{Role: "assistant", Content: &empty}, nil), nil
	}
	if !s.started {
		if !known(e.Type) {
			return nil, nil
		}
		return nil, llm.ProtocolError(fmt.Errorf("a %s event before message_start", e.Type))
	}
	switch e.Type {
	case "content_block_start":
		b := e.ContentBlock
		if b == nil {
			return nil, llm.ProtocolError(errors.New("a content_block_start without its block"))
		}
		switch b.Type {
		case "text":
			if b.Text != "" {
				return s.chunk(llm.Delta{Content: &b.Text}, nil), nil
			}
		case "tool_use":
			if _, dup := s.tools[e.Index]; dup {
				return nil, llm.ProtocolError(fmt.Errorf("content block %d started twice", e.Index))
			}
			i := len(s.tools)
			s.tools[e.Index] = i
			return s.chunk(llm.Delta{ToolCalls: []llm.ToolCall{{Index: &i, ID: b.ID, Type: "function",
				Function: llm.FunctionCall{Name: b.Name}}}}, nil), nil
		}
	case "content_block_delta":
		switch e.Delta.Type {
		case "text_delta":
			if e.Delta.Text != "" {
				return s.chunk(llm.Delta{Content: &e.Delta.Text}, nil), nil
			}
		case "input_json_delta":
			i, ok := s.tools[e.Index]
			if !ok {
				return nil, llm.ProtocolError(fmt.Errorf("tool input for content block %d, which is not a tool_use", e.Index))
			}
			// The first delta of a tool's input is often empty: it says nothing.
			if e.Delta.PartialJSON != "" {
				return s.chunk(llm.Delta{ToolCalls: []llm.ToolCall{{Index: &i,
					Function: llm.FunctionCall{Arguments: e.Delta.PartialJSON}}}}, nil), nil
			}
		}
	case "message_delta":
		s.usage.update(e.Usage)
		if e.Delta.StopReason != "" {
			reason := finishReason(e.Delta.StopReason)
			return s.chunk(llm.Delta{}, &reason), nil
		}
	case "message_stop":
		s.err = io.EOF
		c := s.chunk(llm.Delta{}, nil)
		c.Choices, c.Usage = []llm.ChunkChoice{}, s.usage.canonical()
		return c, nil
	}
	return nil, nil
}

// known says t is an event type whose shape this package reads.
func known(t string) bool {
	switch t {
	case "ping", "error", "message_start", "content_block_start", "content_block_delta",
		"content_block_stop", "message_delta", "message_stop":
		return true
	}
	return false
}

// chunk is a chunk of the stream's message with one choice of delta.
func (s *stream) chunk(delta llm.Delta, finish *string) *llm.ChatChunk {
	return &llm.ChatChunk{
		ID:      s.id,
		Object:  "chat.completion.chunk",
		Created: s.created,
		Model:   s.model,
		Choices: []llm.ChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}},
	}
}

// streamError is the Error of an error event: its type says what its
// status would have been, had it come before the stream's 200.
func streamError(e *apiError, data []byte) *llm.Error {
	if e == nil {
		return &llm.Error{Msg: "the stream failed: " + llm.ErrorSummary(data)}
	}
	msg := e.Type + ": " + llm.ErrorSummary(data)
	status, ok := errorStatus[e.Type]
	if !ok {
		return &llm.Error{Msg: "the stream failed: " + msg}
	}
	err := llm.StatusError(status, msg)
	// Only overload, a server fault and a rate limit may pass on another
	// candidate; every other type is the request's own fault.
	err.Retryable = status == 429 || status == 500 || status == 529
	return err
}
