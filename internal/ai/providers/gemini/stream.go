package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/portcullis/portcullis/internal/ai/llm"
)

// stream translates streamGenerateContent's server-sent events, each a
// whole GenerateContentResponse, into chat.completion.chunks.
type stream struct {
	ctx    context.Context
	body   io.ReadCloser
	events *llm.EventReader
	model  string // the requested model, for an answer that names none

	started bool // id, model and created are set (from the first event)
	id      string
	chunkOf string // the answer's model
	created int64

	pending  []*llm.ChatChunk
	roleSent map[int]bool // per choice: its first delta carried the role
	calls    map[int]int  // per choice: function calls so far
	finished bool         // some candidate gave a finish reason
	usage    *usageMetadata
	err      error // sticky: io.EOF after the last chunk, or an *llm.Error

	closeOnce sync.Once
}

func newStream(ctx context.Context, body io.ReadCloser, model string) *stream {
	return &stream{
		ctx:      ctx,
		body:     body,
		events:   llm.NewEventReader(body),
		model:    model,
		roleSent: map[int]bool{},
		calls:    map[int]int{},
	}
}

// Next returns the next chunk, io.EOF after the last one, or an *llm.Error.
func (s *stream) Next() (*llm.ChatChunk, error) {
	if err := s.fill(); err != nil {
		return nil, err
	}
	c := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	return c, nil
}

// Close closes the upstream body; safe to call more than once.
func (s *stream) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.body.Close() })
	return err
}

// fill reads events until a chunk is pending; it returns the stream's
// error (io.EOF at its end) only when none is.
func (s *stream) fill() error {
	for len(s.pending) == 0 && s.err == nil {
		s.err = s.step()
	}
	if len(s.pending) > 0 {
		return nil
	}
	return s.err
}

// step reads and translates one event; at the end of the stream it queues
// the final usage chunk and returns io.EOF.
func (s *stream) step() error {
	ev, err := s.events.Next()
	switch {
	case err != nil && !(err == io.EOF && s.finished) && s.ctx.Err() != nil:
		// The body ends, one way or another, because the caller cancelled.
		return &llm.Error{Msg: "cancelled", Err: s.ctx.Err()}
	case err == io.EOF:
		if !s.finished {
			return llm.ProtocolError(errors.New("the stream ended without a finish reason"))
		}
		s.start("", "")
		// Always sent, even with no usage reported, so that the gateway
		// sees one shape of ending whatever the provider.
		s.pending = append(s.pending, s.chunk([]llm.ChunkChoice{}, toUsage(s.usage)))
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		return llm.ProtocolError(errors.New("the stream ended inside an event"))
	case err != nil:
		return llm.TransportError(err)
	}
	var g genResponse
	if err := json.Unmarshal(ev.Data, &g); err != nil {
		return llm.ProtocolError(err)
	}
	if g.Error != nil {
		// Google reports a failure after the 200 as an error event.
		if g.Error.Code >= 400 && g.Error.Code <= 599 {
			return llm.StatusError(g.Error.Code, llm.ErrorSummary(ev.Data))
		}
		return llm.ProtocolError(errors.New("the stream sent an error: " + llm.ErrorSummary(ev.Data)))
	}
	s.translate(&g)
	return nil
}

// start fixes what every chunk shares from the first event.
func (s *stream) start(id, model string) {
	if s.started {
		return
	}
	s.started = true
	s.id = id
	if s.id == "" {
		s.id = newID("chatcmpl-")
	}
	s.chunkOf = model
	if s.chunkOf == "" {
		s.chunkOf = s.model
	}
	s.created = now()
}

func (s *stream) chunk(choices []llm.ChunkChoice, usage *llm.Usage) *llm.ChatChunk {
	return &llm.ChatChunk{
		ID:      s.id,
		Object:  "chat.completion.chunk",
		Created: s.created,
		Model:   s.chunkOf,
		Choices: choices,
		Usage:   usage,
	}
}

// emit queues a chunk of one choice; the choice's first carries the role.
func (s *stream) emit(index int, d llm.Delta, finish *string) {
	if !s.roleSent[index] {
		s.roleSent[index] = true
		d.Role = "assistant"
	}
	s.pending = append(s.pending, s.chunk([]llm.ChunkChoice{{Index: index, Delta: d, FinishReason: finish}}, nil))
}

// translate queues the chunks of one event: per candidate, its text runs
// and its function calls in order (each call complete in one delta), then
// its finish reason.
func (s *stream) translate(g *genResponse) {
	s.start(g.ResponseID, g.ModelVersion)
	if g.UsageMetadata != nil {
		s.usage = g.UsageMetadata // cumulative: the last one counts
	}
	for i, c := range g.Candidates {
		index := candidateIndex(c, i)
		if c.Content != nil {
			var text []byte
			flush := func() {
				if len(text) > 0 {
					t := string(text)
					s.emit(index, llm.Delta{Content: &t}, nil)
					text = text[:0]
				}
			}
			for _, p := range c.Content.Parts {
				switch {
				case p.Thought:
				case p.Text != nil:
					text = append(text, *p.Text...)
				case p.FunctionCall != nil:
					flush()
					tc, err := toToolCall(p.FunctionCall)
					if err != nil {
						continue // args were decoded from JSON: cannot happen
					}
					n := s.calls[index]
					s.calls[index] = n + 1
					tc.Index = &n
					s.emit(index, llm.Delta{ToolCalls: []llm.ToolCall{tc}}, nil)
				}
			}
			flush()
		}
		if c.FinishReason != "" {
			reason := finishReason(c.FinishReason, s.calls[index] > 0)
			s.emit(index, llm.Delta{}, &reason)
			s.finished = true
		}
	}
	if len(g.Candidates) == 0 && g.PromptFeedback != nil && g.PromptFeedback.BlockReason != "" {
		reason := "content_filter"
		s.emit(0, llm.Delta{}, &reason)
		s.finished = true
	}
}
