package llm

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxEventBytes bounds one server-sent event of a provider's stream.
const MaxEventBytes = 8 << 20

// Event is one server-sent event: its type (the "event:" field, "" when it
// had none) and its data (the "data:" lines joined by newlines).
type Event struct {
	Type string
	Data []byte
}

// EventReader reads server-sent events (the WHATWG format) from a stream.
type EventReader struct {
	r *bufio.Reader
}

// NewEventReader reads events from r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// Next returns the next event with data, io.EOF at the end of the stream,
// or io.ErrUnexpectedEOF when the stream ends inside an event.
func (e *EventReader) Next() (Event, error) {
	var ev Event
	var data []byte
	hasData := false
	for {
		line, err := e.readLine()
		if err != nil {
			if err == io.EOF && (hasData || ev.Type != "") {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if hasData {
				ev.Data = data
				return ev, nil
			}
			ev = Event{}
			continue
		}
		if line[0] == ':' {
			continue // a comment (keep-alive)
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Type = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
			if len(data) > MaxEventBytes {
				return Event{}, errors.New("server-sent event too large")
			}
		}
	}
}

// Buffered reports whether more of the stream has arrived than was read.
func (e *EventReader) Buffered() bool { return e.r.Buffered() > 0 }

// readLine reads one line without its end (\n, \r\n or \r is not split: the
// providers end lines with \n or \r\n).
func (e *EventReader) readLine() ([]byte, error) {
	line, err := e.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		full := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = e.r.ReadSlice('\n')
			full = append(full, line...)
			if len(full) > MaxEventBytes {
				return nil, errors.New("server-sent event line too large")
			}
		}
		line = full
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return bytes.TrimRight(line, "\r"), nil
		}
		return nil, err
	}
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte("\r")), nil
}
